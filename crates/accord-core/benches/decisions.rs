//! `make bench`: in-process cost of Accord's hot decisions, with p50/p99 latency and
//! bytes allocated per call, each compared with a baseline measured in the same run on
//! the same machine (so the ratio means something even on a noisy 2-core box).
//!
//! - admission: decode + decide + encode an Attestation CREATE (the webhook's work per
//!   request), against the baseline of only decoding the AdmissionReview JSON;
//! - gate: which of 1000 attestations count for a 10-item checklist, against the
//!   baseline of one pass over those attestations;
//! - fingerprint: the candidate fingerprint of one spec, against serializing the spec;
//! - plan: the promotion/rollback decision for one ModelDeployment, against the
//!   baseline of cloning its status (the least any reconcile does);
//! - record: building a promotion's in-toto Statement and signing its DSSE envelope
//!   (ed25519), what each PromotionRecord costs the operator, against serializing the
//!   Statement alone;
//! - signature: verifying a signed Attestation (OpenSSH-made vectors, ed25519 and ECDSA
//!   P-256) against its Team's keys, against verifying an unsigned one's HMAC seal.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    hint::black_box,
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use accord_core::{
    admission::{
        Rights,
        review::{self, ClusterView, Hook, StaticClusterView},
    },
    api::{Attestation, AttestationSpec, ModelDeployment, Team, labels},
    candidate, gate,
    rollout::{self, PlanInput},
    seal::SealKeys,
    signing,
    trust::TrustAsWritten,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;

struct Counting;
static ALLOCATED: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Clone, Copy)]
struct Stats {
    p50_us: f64,
    p99_us: f64,
    bytes_per_call: f64,
}

fn measure(iterations: usize, mut f: impl FnMut()) -> Stats {
    for _ in 0..iterations / 10 {
        f();
    }
    let mut samples = Vec::with_capacity(iterations);
    let before = ALLOCATED.load(Ordering::Relaxed);
    for _ in 0..iterations {
        let start = Instant::now();
        f();
        samples.push(start.elapsed().as_nanos() as f64 / 1000.0);
    }
    let bytes = ALLOCATED.load(Ordering::Relaxed) - before;
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Stats {
        p50_us: samples[samples.len() / 2],
        p99_us: samples[samples.len() * 99 / 100],
        bytes_per_call: bytes as f64 / iterations as f64,
    }
}

fn report(name: &str, baseline_name: &str, subject: Stats, baseline: Stats) {
    println!(
        "{name:<34} p50 {:>8.1} µs  p99 {:>8.1} µs  {:>9.0} B/call",
        subject.p50_us, subject.p99_us, subject.bytes_per_call
    );
    println!(
        "  baseline: {baseline_name:<24} p50 {:>8.1} µs  p99 {:>8.1} µs  {:>9.0} B/call   → {:.1}× the baseline at p50",
        baseline.p50_us,
        baseline.p99_us,
        baseline.bytes_per_call,
        subject.p50_us / baseline.p50_us.max(0.001)
    );
}

fn model_deployment(items: usize) -> ModelDeployment {
    let roles = ["data", "platform", "application"];
    let checklist: Vec<_> = (0..items)
        .map(|i| json!({"id": format!("item-{i}"), "owner": roles[i % 3]}))
        .collect();
    serde_json::from_value(json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "ModelDeployment",
        "metadata": {"name": "fraud-scorer", "namespace": "payments", "generation": 1, "uid": "u1"},
        "spec": {
            "owners": {"data": "data-platform", "platform": "ml-platform", "application": "payments-app"},
            "model": {"name": "fraud-scorer", "version": "2.4.0"},
            "serving": {"image": "registry.example.com/fraud-scorer:2.4.0", "replicas": 2, "port": 8080},
            "handoff": {"checklist": checklist, "escalateAfter": "24h"},
            "rollback": {"mode": "Automatic"}
        }
    }))
    .unwrap()
}

fn team(name: &str, group: &str) -> Team {
    serde_json::from_value(json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Team",
        "metadata": {"name": name}, "spec": {"members": {"groups": [group]}}}))
    .unwrap()
}

fn main() {
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    println!("accord decision benchmarks ({iterations} iterations each, release build)\n");
    let keys = SealKeys::generate("k1");
    let mut md = model_deployment(10);
    let author_seal =
        keys.seal_candidate_author("payments", "fraud-scorer", &md.spec.fingerprint(), "ci-bot");
    md.metadata.uid = Some("uid-md".into());
    md.metadata.annotations = Some(
        [
            (labels::CANDIDATE_AUTHOR.to_string(), "ci-bot".to_string()),
            (labels::CANDIDATE_AUTHOR_SEAL.to_string(), author_seal),
        ]
        .into(),
    );
    let world = StaticClusterView {
        model_deployments: vec![md.clone()],
        teams: vec![
            team("data-platform", "data-eng"),
            team("ml-platform", "ml-eng"),
            team("payments-app", "app-eng"),
        ],
        keys: Some(std::sync::Arc::new(keys)),
        rights: Rights::default(),
    };

    // Admission.
    let body = serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "0000-1111", "kind": {"group": "accord.dev", "version": "v1alpha1", "kind": "Attestation"},
            "resource": {"group": "accord.dev", "version": "v1alpha1", "resource": "attestations"},
            "name": "fraud-scorer-2.4.0-item-0", "namespace": "payments", "operation": "CREATE",
            "userInfo": {"username": "alice", "groups": ["data-eng", "system:authenticated"]},
            "object": {"apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
                "metadata": {"name": "fraud-scorer-2.4.0-item-0", "namespace": "payments"},
                "spec": {"modelDeployment": "fraud-scorer", "item": "item-0", "version": "2.4.0",
                         "evidence": "https://ci.example.com/runs/1234"}},
            "dryRun": false
        }
    }))
    .unwrap();
    let full = measure(iterations, || {
        let request = review::decode(black_box(&body)).unwrap();
        let verdict = review::decide(Hook::MutateAttestation, &request, &world);
        black_box(serde_json::to_vec(&review::respond(&request, &verdict)).unwrap());
    });
    let decode_only = measure(iterations, || {
        black_box(serde_json::from_slice::<serde_json::Value>(black_box(&body)).unwrap());
    });
    report(
        "admission: Attestation CREATE",
        "JSON decode only",
        full,
        decode_only,
    );

    // The candidate fingerprint, computed for every Attestation admitted and every
    // reconcile, against serializing the same spec to JSON.
    let spec = md.spec.clone();
    let fingerprint_stats = measure(iterations, || {
        black_box(black_box(&spec).fingerprint());
    });
    let serialize = measure(iterations, || {
        black_box(serde_json::to_vec(black_box(&spec)).unwrap());
    });
    report(
        "fingerprint: one candidate",
        "serialize its spec",
        fingerprint_stats,
        serialize,
    );

    records(iterations);
    signatures(iterations, &world);

    // Gate over many attestations.
    let fingerprint = md.spec.fingerprint();
    let users = [
        ("alice", "data-eng"),
        ("bob", "ml-eng"),
        ("carol", "app-eng"),
    ];
    let attestations: Vec<Attestation> = (0..1000)
        .map(|i| {
            let (user, group) = users[i % 3];
            serde_json::from_value(json!({
                "apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
                "metadata": {"name": format!("a{i}"), "namespace": "payments",
                             "annotations": {"accord.dev/attester-groups": group}},
                "spec": {"modelDeployment": if i % 2 == 0 { "fraud-scorer" } else { "other" },
                         "item": format!("item-{}", i % 10),
                         "version": if i % 5 == 0 { "2.4.0" } else { "2.3.0" },
                         "candidate": if i % 5 == 0 { fingerprint.clone() } else { format!("sha256:{}", "0".repeat(64)) },
                         "attestedBy": user}
            }))
            .unwrap()
        })
        .collect();
    let lookup = |name: &str| world.team(name);
    let candidate = candidate::current(&md, &TrustAsWritten);
    let effective = accord_core::policy::effective(&md, &Default::default(), []);
    let gate_stats = measure(iterations / 10, || {
        black_box(gate::evaluate(
            &md,
            &effective,
            &candidate,
            attestations.iter(),
            &lookup,
            &TrustAsWritten,
            jiff::Timestamp::now(),
        ));
    });
    let scan = measure(iterations / 10, || {
        black_box(
            attestations
                .iter()
                .filter(|a| a.spec.model_deployment == "fraud-scorer")
                .count(),
        );
    });
    report(
        "gate: 1000 attestations, 10 items",
        "one filter pass",
        gate_stats,
        scan,
    );

    // The promotion decision.
    let outcome = gate::evaluate(
        &md,
        &effective,
        &candidate,
        attestations.iter(),
        &lookup,
        &TrustAsWritten,
        jiff::Timestamp::now(),
    );
    let now = Time(jiff::Timestamp::now());
    let plan_stats = measure(iterations, || {
        let input = PlanInput {
            md: &md,
            candidate: &candidate,
            gate: &outcome,
            missing_teams: vec![],
            name_conflicts: vec![],
            contacts: Default::default(),
            deployment: None,
            canary: None,
            measurement: None,
            roll_back_for: None,
            now: now.clone(),
        };
        black_box(rollout::plan(&input));
    });
    let status = outcome.items.clone();
    let clone_stats = measure(iterations, || {
        black_box(status.clone());
    });
    report(
        "plan: one ModelDeployment",
        "clone its checklist",
        plan_stats,
        clone_stats,
    );
}

/// A promotion's record: its Statement from the decided status and the Attestations,
/// then the DSSE envelope signed with ed25519; against serializing that Statement.
fn records(iterations: usize) {
    let (world, plan) = accord_core::testing::World::promoted_with_record();
    let keys = accord_core::audit::keys::RecordKeys::from_seed("r1", [7; 32]);
    let record_stats = measure(iterations, || {
        black_box(world.sign_record(&plan, None, "bench", &keys));
    });
    let (statement, _, _) = world.sign_record(&plan, None, "bench", &keys);
    let serialize = measure(iterations, || {
        black_box(serde_json::to_vec(&statement).expect("serializes"));
    });
    report(
        "record: Statement + DSSE sign",
        "serialize the Statement",
        record_stats,
        serialize,
    );
}

/// A signed Attestation's verification (statement, SSHSIG parse, key lookup, signature)
/// for each key type in `testdata/signing/`, against the HMAC seal check every unsigned
/// Attestation gets.
fn signatures(iterations: usize, world: &StaticClusterView) {
    let vector = |name: &str| {
        std::fs::read_to_string(format!(
            "{}/../../testdata/signing/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let mut sealed: Attestation = serde_json::from_value(json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
        "metadata": {"name": "a", "namespace": "payments"},
        "spec": {"modelDeployment": "fraud-scorer", "item": "data-drift-checked", "version": "2.4.0",
                 "attestedBy": "alice", "team": "data-platform"}
    }))
    .unwrap();
    let keys = world.keys.clone().unwrap();
    let seal = keys.seal(&sealed);
    sealed
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(labels::SEAL.into(), seal);
    let seal_stats = measure(iterations, || {
        keys.verify(black_box(&sealed)).unwrap();
    });
    for key in ["ed25519", "ecdsa_p256"] {
        let spec: AttestationSpec = serde_json::from_value(json!({
            "modelDeployment": "fraud-scorer", "item": "data-drift-checked", "version": "2.4.0",
            "digest": "sha256:9406f2a0c7e4d1b3a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e5d6c7b8",
            "candidate": "sha256:5b1c0e3f7a9d2b4c6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d",
            "evidence": "https://ci.example.com/runs/1234",
            "signature": {"signer": "alice", "signedAt": "2026-11-28T10:00:00Z", "sshsig": vector(&format!("{key}.sig"))}
        }))
        .unwrap();
        let team: Team = serde_json::from_value(json!({
            "apiVersion": "accord.dev/v1alpha1", "kind": "Team", "metadata": {"name": "data-platform"},
            "spec": {"members": {"users": ["alice"]}, "signingKeys": [{"user": "alice", "key": vector(&format!("{key}.pub"))}]}
        }))
        .unwrap();
        let now: jiff::Timestamp = "2026-11-28T11:00:00Z".parse().unwrap();
        let verify = measure(iterations / 10, || {
            black_box(signing::verify("payments", black_box(&spec), &team, now).unwrap());
        });
        report(
            &format!("signature: verify {key}"),
            "HMAC seal check",
            verify,
            seal_stats,
        );
    }
}

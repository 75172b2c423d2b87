//! A software "security key" for OpenSSH's FIDO middleware interface (`sk-api.h`), so
//! that the real `ssh-keygen` can make `sk-ssh-ed25519@openssh.com` keys and SSHSIG
//! signatures on a machine with no hardware key: OpenSSH frames the key, the signature
//! and its flags and counter exactly as it does for a token; only the Ed25519 operation
//! happens here.
//!
//! INSECURE BY DESIGN: the key handle is the private key. For test vectors only.
//! `SK_SOFT_NO_TOUCH=1` reports a signature made without user presence.

use std::{
    ffi::{CStr, c_char, c_int},
    io::Read,
    ptr,
};

use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};

/// The middleware API version OpenSSH 9.x speaks.
const SSH_SK_VERSION_MAJOR: u32 = 0x000a_0000;
const SSH_SK_ED25519: u32 = 0x01;
const SSH_SK_USER_PRESENCE_REQD: u8 = 0x01;
const SSH_SK_ERR_GENERAL: c_int = -1;
const SSH_SK_ERR_UNSUPPORTED: c_int = -2;

#[repr(C)]
pub struct SkEnrollResponse {
    flags: u8,
    public_key: *mut u8,
    public_key_len: usize,
    key_handle: *mut u8,
    key_handle_len: usize,
    signature: *mut u8,
    signature_len: usize,
    attestation_cert: *mut u8,
    attestation_cert_len: usize,
    authdata: *mut u8,
    authdata_len: usize,
}

#[repr(C)]
pub struct SkSignResponse {
    flags: u8,
    counter: u32,
    sig_r: *mut u8,
    sig_r_len: usize,
    sig_s: *mut u8,
    sig_s_len: usize,
}

/// Opaque to this middleware.
#[repr(C)]
pub struct SkOption {
    _private: [u8; 0],
}

/// Opaque to this middleware.
#[repr(C)]
pub struct SkResidentKey {
    _private: [u8; 0],
}

/// A malloc'd copy (OpenSSH frees what the middleware returns with free()).
fn copy(bytes: &[u8]) -> *mut u8 {
    // SAFETY: malloc returns at least `len` writable bytes (or null, checked).
    unsafe {
        let p = libc::malloc(bytes.len().max(1)).cast::<u8>();
        if !p.is_null() {
            ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
        }
        p
    }
}

fn zeroed<T>() -> *mut T {
    // SAFETY: calloc returns zeroed memory for one T (or null, checked by callers).
    unsafe { libc::calloc(1, size_of::<T>()).cast::<T>() }
}

#[unsafe(no_mangle)]
pub extern "C" fn sk_api_version() -> u32 {
    SSH_SK_VERSION_MAJOR
}

/// Makes a new Ed25519 key; its handle is the seed.
///
/// # Safety
/// Called by OpenSSH with the pointers sk-api.h describes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sk_enroll(
    alg: u32,
    _challenge: *const u8,
    _challenge_len: usize,
    _application: *const c_char,
    flags: u8,
    _pin: *const c_char,
    _options: *mut *mut SkOption,
    response: *mut *mut SkEnrollResponse,
) -> c_int {
    if alg != SSH_SK_ED25519 {
        return SSH_SK_ERR_UNSUPPORTED;
    }
    let mut seed = [0u8; 32];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut seed));
    if random.is_err() || response.is_null() {
        return SSH_SK_ERR_GENERAL;
    }
    let key = SigningKey::from_bytes(&seed);
    let out = zeroed::<SkEnrollResponse>();
    if out.is_null() {
        return SSH_SK_ERR_GENERAL;
    }
    // SAFETY: `out` is a valid, zeroed SkEnrollResponse; `response` is non-null.
    unsafe {
        (*out).flags = flags;
        (*out).public_key = copy(key.verifying_key().as_bytes());
        (*out).public_key_len = 32;
        (*out).key_handle = copy(&seed);
        (*out).key_handle_len = 32;
        *response = out;
    }
    0
}

/// Signs as a FIDO authenticator does: over SHA-256(application) ‖ flags ‖ counter ‖
/// SHA-256(data).
///
/// # Safety
/// Called by OpenSSH with the pointers sk-api.h describes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sk_sign(
    alg: u32,
    data: *const u8,
    data_len: usize,
    application: *const c_char,
    key_handle: *const u8,
    key_handle_len: usize,
    _flags: u8,
    _pin: *const c_char,
    _options: *mut *mut SkOption,
    response: *mut *mut SkSignResponse,
) -> c_int {
    if alg != SSH_SK_ED25519 {
        return SSH_SK_ERR_UNSUPPORTED;
    }
    if key_handle_len != 32 || key_handle.is_null() || application.is_null() || response.is_null() {
        return SSH_SK_ERR_GENERAL;
    }
    // SAFETY: OpenSSH passes valid buffers of the stated lengths and a C string.
    let (seed, data, application) = unsafe {
        let mut seed = [0u8; 32];
        ptr::copy_nonoverlapping(key_handle, seed.as_mut_ptr(), 32);
        (
            seed,
            std::slice::from_raw_parts(data, data_len),
            CStr::from_ptr(application).to_bytes(),
        )
    };
    let touched = std::env::var_os("SK_SOFT_NO_TOUCH").is_none();
    let sig_flags = if touched { SSH_SK_USER_PRESENCE_REQD } else { 0 };
    let counter: u32 = 1;
    let mut message = Vec::with_capacity(69);
    message.extend(Sha256::digest(application));
    message.push(sig_flags);
    message.extend(counter.to_be_bytes());
    message.extend(Sha256::digest(data));
    let signature = SigningKey::from_bytes(&seed).sign(&message);
    let out = zeroed::<SkSignResponse>();
    if out.is_null() {
        return SSH_SK_ERR_GENERAL;
    }
    // SAFETY: `out` is a valid, zeroed SkSignResponse; `response` is non-null.
    unsafe {
        (*out).flags = sig_flags;
        (*out).counter = counter;
        (*out).sig_r = copy(&signature.to_bytes());
        (*out).sig_r_len = 64;
        *response = out;
    }
    0
}

/// No resident keys.
///
/// # Safety
/// Called by OpenSSH with the pointers sk-api.h describes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sk_load_resident_keys(
    _pin: *const c_char,
    _options: *mut *mut SkOption,
    _rks: *mut *mut *mut SkResidentKey,
    _nrks: *mut usize,
) -> c_int {
    SSH_SK_ERR_UNSUPPORTED
}

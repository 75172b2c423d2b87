//! Who a client is to the API server: a SelfSubjectReview, as `kubectl auth whoami`
//! asks. The operator learns its own identity this way: only it may write status.

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::{Api, Client, api::PostParams};

/// The authenticated user name, or `None` when the API server does not say.
pub async fn whoami(client: &Client) -> kube::Result<Option<String>> {
    let review = Api::<SelfSubjectReview>::all(client.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await?;
    Ok(review
        .status
        .and_then(|s| s.user_info)
        .and_then(|u| u.username))
}

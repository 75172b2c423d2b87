//! Who the caller is to the API server: a SelfSubjectReview, as `kubectl auth whoami`
//! asks. Their user name and groups decide which Teams they belong to.

use k8s_openapi::api::authentication::v1::{SelfSubjectReview, UserInfo};
use kube::{Api, Client, api::PostParams};

/// The authenticated user (name and groups), as the API server sees the caller.
pub async fn user_info(client: &Client) -> kube::Result<UserInfo> {
    let review = Api::<SelfSubjectReview>::all(client.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await?;
    Ok(review.status.and_then(|s| s.user_info).unwrap_or_default())
}

/// The authenticated user name, or `None` when the API server does not say.
pub async fn whoami(client: &Client) -> kube::Result<Option<String>> {
    Ok(user_info(client).await?.username)
}

//! The one way a deployed command reaches AWS: the SDK config for the stack's region (the outputs' `region`,
//! else the environment's), honouring `AWS_ENDPOINT_URL` and the usual credential chain. Compiled only with
//! the `aws` feature, as is every module that calls AWS.

use crate::deployment::Deployment;

/// An AWS SDK config for `region` (else the environment's). Every deployed command (`smoke-test`,
/// `status`, `items`, `rotate`, `dlq`) loads it so.
pub async fn sdk_config(region: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    loader.load().await
}

impl Deployment {
    /// An AWS SDK config for the deployed region: [`sdk_config`] with the outputs' `region`.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config(self.region()).await
    }
}

//! placeholder, filled by the lambdas issue

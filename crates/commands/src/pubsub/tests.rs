use crate::testing::TestCtx;

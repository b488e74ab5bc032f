#include "proxy/access_log/stream_info.h"

#include <gtest/gtest.h>

namespace weft::access_log {
namespace {

TEST(ResponseFlagsTest, EnvoyNamesInEnvoyOrder) {
  std::string out;
  AppendResponseFlags(0, out);
  EXPECT_EQ(out, "-");
  out.clear();
  AppendResponseFlags(kNoRouteFound | kNoHealthyUpstream | kDropOverload, out);
  EXPECT_EQ(out, "UH,NR,DO");
  out.clear();
  AppendResponseFlags(kUpstreamRetryLimitExceeded | kUpstreamMaxStreamDurationReached |
                          kUnauthorizedExternalService | kRateLimitServiceError |
                          kDnsResolutionFailed | kOverloadManager | kNoClusterFound |
                          kUpstreamProtocolError | kDownstreamProtocolError |
                          kInvalidEnvoyRequestHeaders | kStreamIdleTimeout,
                      out);
  EXPECT_EQ(out, "UAEX,RLSE,URX,SI,IH,DPE,UMSDR,UPE,NC,OM,DF");
  EXPECT_EQ(ResponseFlagShortName(0), "LH");
  EXPECT_EQ(ResponseFlagShortName(kResponseFlagCount - 1), "DR");
}

}  // namespace
}  // namespace weft::access_log

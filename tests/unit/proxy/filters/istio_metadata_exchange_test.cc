// Istio's TCP metadata exchange frame (istio_peer_metadata.h EncodeMxFrame / ReadMxFrame).
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "proxy/filters/istio_peer_metadata.h"

namespace weft::filters::istio {
namespace {

WorkloadMetadata Reviews() {
  WorkloadMetadata w;
  w.node_id = "sidecar~10.0.0.7~reviews-v2-xyz.shop~shop.svc.cluster.local";
  w.name = "reviews-v2-xyz";
  w.namespace_ = "shop";
  w.workload_name = "reviews-v2";
  w.service_account = "reviews";
  w.cluster_id = "Kubernetes";
  w.labels = {{"app", "reviews"}, {"version", "v2"}};
  return w;
}

TEST(IstioMetadataExchangeTest, FrameHasIstiosHeader) {
  const std::string frame = EncodeMxFrame(Reviews());
  ASSERT_GT(frame.size(), kMxHeaderSize);
  // Magic 0x3D230467 then the data size, both most significant byte first.
  EXPECT_EQ(frame.substr(0, 4), std::string("\x3d\x23\x04\x67", 4));
  const auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(frame[i])); };
  const uint32_t size = byte(4) << 24 | byte(5) << 16 | byte(6) << 8 | byte(7);
  EXPECT_EQ(size, frame.size() - kMxHeaderSize);
  // An Any naming google.protobuf.Struct: field 1 (tag 0x0a), its length, the type URL.
  const std::string type_url = "type.googleapis.com/google.protobuf.Struct";
  EXPECT_EQ(frame.substr(8, 2 + type_url.size()),
            std::string("\x0a") + static_cast<char>(type_url.size()) + type_url);
}

TEST(IstioMetadataExchangeTest, RoundTrip) {
  const std::string frame = EncodeMxFrame(Reviews());
  const std::string rest = "GET / HTTP/1.1\r\n\r\n";
  const MxRead read = ReadMxFrame(frame + rest);
  ASSERT_EQ(read.status, MxRead::Status::kDone);
  EXPECT_EQ(read.size, frame.size());  // the application's bytes are not part of it
  ASSERT_TRUE(read.peer.has_value());
  EXPECT_EQ(read.peer->node_id, Reviews().node_id);
  EXPECT_EQ(read.peer->workload_name, "reviews-v2");
  EXPECT_EQ(read.peer->namespace_, "shop");
  EXPECT_EQ(read.peer->service_account, "reviews");
  EXPECT_EQ(read.peer->cluster_id, "Kubernetes");
  EXPECT_EQ(read.peer->labels, Reviews().labels);
  EXPECT_FALSE(read.peer_struct.empty());
}

TEST(IstioMetadataExchangeTest, EveryPrefixWaitsForMore) {
  const std::string frame = EncodeMxFrame(Reviews());
  for (size_t n = 0; n < frame.size(); ++n) {
    const MxRead read = ReadMxFrame(std::string_view(frame).substr(0, n));
    EXPECT_EQ(read.status, MxRead::Status::kNeedMore) << n;
    EXPECT_FALSE(read.peer.has_value());
  }
}

TEST(IstioMetadataExchangeTest, OtherBytesAreNotAFrame) {
  EXPECT_EQ(ReadMxFrame("GET / HTTP/1.1\r\n").status, MxRead::Status::kNotAFrame);
  EXPECT_EQ(ReadMxFrame("G").status, MxRead::Status::kNotAFrame);  // decided on one byte
  EXPECT_EQ(ReadMxFrame(std::string("\x3d\x23\x04\x68", 4)).status, MxRead::Status::kNotAFrame);
  // The magic with a size past Weft's bound: not buffered, relayed.
  EXPECT_EQ(ReadMxFrame(std::string("\x3d\x23\x04\x67\x7f\xff\xff\xff", 8)).status,
            MxRead::Status::kNotAFrame);
}

TEST(IstioMetadataExchangeTest, GarbageDataIsConsumedWithoutAPeer) {
  // A well-framed payload that is no Any of a Struct: the frame is dropped, the peer unknown.
  for (const std::string data :
       {std::string("\xff\xff\xff", 3), std::string("\x0a\x05abc", 5),  // truncated type_url
        std::string("\x0a\x03xyz\x12\x00", 6),                          // wrong type URL
        std::string(16, '\0')}) {
    std::string frame("\x3d\x23\x04\x67\x00\x00\x00", 7);
    frame += static_cast<char>(data.size());
    frame += data;
    const MxRead read = ReadMxFrame(frame);
    ASSERT_EQ(read.status, MxRead::Status::kDone);
    EXPECT_EQ(read.size, frame.size());
    EXPECT_FALSE(read.peer.has_value());
  }
}

TEST(IstioMetadataExchangeTest, TruncatedStructInsideTheFrameHasNoPeer) {
  std::string frame = EncodeMxFrame(Reviews());
  // Cut the payload short but keep the header's size consistent with it: the inner lengths
  // then point past the end.
  frame.resize(frame.size() - 10);
  const uint32_t size = static_cast<uint32_t>(frame.size() - kMxHeaderSize);
  frame[4] = static_cast<char>(size >> 24);
  frame[5] = static_cast<char>(size >> 16);
  frame[6] = static_cast<char>(size >> 8);
  frame[7] = static_cast<char>(size);
  const MxRead read = ReadMxFrame(frame);
  ASSERT_EQ(read.status, MxRead::Status::kDone);
  EXPECT_FALSE(read.peer.has_value());
}

TEST(IstioMetadataExchangeTest, RandomPayloadsNeverCrash) {
  std::mt19937 rng(6);
  const std::string good = EncodeMxFrame(Reviews());
  for (int i = 0; i < 5000; ++i) {
    std::string frame = good;
    // Flip a few payload bytes, or replace the payload with random bytes of the same size.
    if (i % 2 == 0) {
      for (int k = 0; k < 4; ++k) {
        frame[kMxHeaderSize + rng() % (frame.size() - kMxHeaderSize)] = static_cast<char>(rng());
      }
    } else {
      for (size_t k = kMxHeaderSize; k < frame.size(); ++k) frame[k] = static_cast<char>(rng());
    }
    const MxRead read = ReadMxFrame(frame);
    ASSERT_EQ(read.status, MxRead::Status::kDone);
    EXPECT_EQ(read.size, frame.size());
  }
}

}  // namespace
}  // namespace weft::filters::istio

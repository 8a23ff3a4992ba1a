#include <gtest/gtest.h>

#include "base/status.h"

namespace ec {
namespace {

Result<int> Half(int x) {
  if (x % 2) return InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Status Quarter(int x, int* out) {
  EC_ASSIGN_OR_RETURN(int h, Half(x));
  EC_ASSIGN_OR_RETURN(*out, Half(h));
  return Status::Ok();
}

TEST(Status, PropagatesErrorsAndValues) {
  int q = 0;
  EXPECT_TRUE(Quarter(8, &q).ok());
  EXPECT_EQ(q, 2);
  Status s = Quarter(6, &q);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.ToString(), "invalid_argument: odd: 3");
}

TEST(ErrorCode, MapsToHttpAndKafka) {
  EXPECT_EQ(InfoOf(ErrorCode::kNotFound).http_status, 404);
  EXPECT_EQ(InfoOf(ErrorCode::kUnavailable).http_status, 429);
  EXPECT_EQ(InfoOf(ErrorCode::kCorruption).kafka_error, 2);
}

}  // namespace
}  // namespace ec

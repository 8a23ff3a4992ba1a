#pragma once
// Event-type globs of subscriptions: `*` matches any run of characters (dots included),
// `?` exactly one; everything else matches itself. "shop.order.*" matches "shop.order.placed".

#include <string_view>

namespace ec::delivery {

bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace ec::delivery

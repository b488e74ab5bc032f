// Base64url (RFC 4648 section 5) as JOSE uses it: '-' and '_' instead of '+' and '/', padding
// optional on input and never written on output (RFC 7515 section 2, "Base64url Encoding").
// Thread-safe (pure functions).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace weft::jwt {

// The decoded bytes, or nullopt when `in` holds a character outside the alphabet or has an
// impossible length (one leftover character). Trailing '=' padding is accepted.
std::optional<std::string> Base64UrlDecode(std::string_view in);

// Unpadded base64url of `in`.
std::string Base64UrlEncode(std::string_view in);

}  // namespace weft::jwt

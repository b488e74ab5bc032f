#include "proxy/router/header_mutation.h"

#include <fmt/format.h>

#include <utility>

#include "absl/container/inlined_vector.h"

namespace weft::router {

using Action = HeaderValueOption::AppendAction;

const std::vector<std::string> HeaderMutator::kNoRemovals;

absl::Status HeaderMutator::CompileList(const std::vector<HeaderValueOption>& options,
                                        std::vector<CompiledOption>& out) {
  out.reserve(options.size());
  for (const HeaderValueOption& option : options) {
    auto value = access_log::SubstitutionFormatter::Compile(option.value,
                                                            /*omit_empty_values=*/true);
    if (!value.ok()) {
      return absl::InvalidArgumentError(fmt::format("header '{}' value '{}': {}", option.name,
                                                    option.value,
                                                    std::string(value.status().message())));
    }
    const bool literal = value->IsLiteral() && option.value.find('%') == std::string::npos;
    out.push_back({&option, *std::move(value), literal});
  }
  return absl::OkStatus();
}

absl::StatusOr<HeaderMutator> HeaderMutator::Compile(const HeaderMutations& config) {
  HeaderMutator mutator;
  if (auto s = CompileList(config.request_headers_to_add, mutator.request_to_add_); !s.ok()) {
    return s;
  }
  if (auto s = CompileList(config.response_headers_to_add, mutator.response_to_add_); !s.ok()) {
    return s;
  }
  mutator.request_to_remove_ = &config.request_headers_to_remove;
  mutator.response_to_remove_ = &config.response_headers_to_remove;
  return mutator;
}

bool HeaderMutator::empty() const {
  return request_to_add_.empty() && response_to_add_.empty() && request_to_remove_->empty() &&
         response_to_remove_->empty();
}

void HeaderMutator::Apply(const std::vector<CompiledOption>& to_add,
                          const std::vector<std::string>& to_remove, http::HeaderMap& headers,
                          const access_log::StreamInfo& info) {
  // Removing first makes remove-then-add of the same name a replacement, as users expect.
  for (const std::string& name : to_remove) headers.Remove(name);
  if (to_add.empty()) return;

  // Every value is formatted before any is applied, so %REQ(x)% sees the headers as they arrived
  // at this level, not as partly edited by it.
  struct Pending {
    const HeaderValueOption* option;
    std::string value;
  };
  absl::InlinedVector<Pending, 8> pending;
  for (const CompiledOption& compiled : to_add) {
    std::string value;
    if (compiled.literal) {
      value = compiled.option->value;
    } else {
      compiled.value.FormatTo(info, value);
    }
    if (value.empty() && !compiled.option->keep_empty_value) continue;
    switch (compiled.option->action) {
      case Action::kAppendIfExistsOrAdd:
        break;
      case Action::kAddIfAbsent:
        if (headers.Has(compiled.option->name)) continue;
        break;
      case Action::kOverwriteIfExists:
        if (!headers.Has(compiled.option->name)) continue;
        break;
      case Action::kOverwriteIfExistsOrAdd:
        break;
    }
    pending.push_back({compiled.option, std::move(value)});
  }
  // Overwrites first, then additions (Envoy's HeaderParser order): an append and an overwrite of
  // one name at the same level leave both values.
  for (Pending& p : pending) {
    const Action action = p.option->action;
    if (action == Action::kOverwriteIfExists || action == Action::kOverwriteIfExistsOrAdd) {
      headers.Set(p.option->name, std::move(p.value));
    }
  }
  for (Pending& p : pending) {
    const Action action = p.option->action;
    if (action == Action::kAppendIfExistsOrAdd || action == Action::kAddIfAbsent) {
      headers.Add(p.option->name, std::move(p.value));
    }
  }
}

namespace {

template <typename ApplyOne>
void ApplyLevels(std::span<const HeaderMutator* const> most_specific_first, bool most_specific_wins,
                 ApplyOne apply) {
  if (most_specific_wins) {
    for (auto it = most_specific_first.rbegin(); it != most_specific_first.rend(); ++it) {
      if (*it != nullptr) apply(**it);
    }
  } else {
    for (const HeaderMutator* level : most_specific_first) {
      if (level != nullptr) apply(*level);
    }
  }
}

}  // namespace

void ApplyRequestHeaderMutations(std::span<const HeaderMutator* const> most_specific_first,
                                 bool most_specific_wins, http::HeaderMap& headers,
                                 const access_log::StreamInfo& info) {
  ApplyLevels(most_specific_first, most_specific_wins,
              [&](const HeaderMutator& level) { level.ApplyToRequest(headers, info); });
}

void ApplyResponseHeaderMutations(std::span<const HeaderMutator* const> most_specific_first,
                                  bool most_specific_wins, http::HeaderMap& headers,
                                  const access_log::StreamInfo& info) {
  ApplyLevels(most_specific_first, most_specific_wins,
              [&](const HeaderMutator& level) { level.ApplyToResponse(headers, info); });
}

}  // namespace weft::router

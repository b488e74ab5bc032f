// weftctl's kubectl verbs over weftd's resource API: apply, get, delete. Each returns the exit
// code (0, or 1 after printing kubectl-style errors to stderr).
#pragma once

#include <string>
#include <vector>

#include "ctl/client.h"

namespace weft::ctl {

int Apply(Client& client, const std::string& source, const std::string& default_ns);

struct GetOptions {
  std::string kind, name, ns;
  bool all_namespaces = false;
  std::string output;  // "", "wide", "yaml", "json"
};
int Get(Client& client, const GetOptions& options);

int Delete(Client& client, const std::string& source, const std::vector<std::string>& args,
           const std::string& default_ns);

}  // namespace weft::ctl

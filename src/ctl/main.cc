// weftctl: kubectl-shaped command line for weftd.
//   weftctl apply -f FILE|DIR|-                         create or update (idempotent)
//   weftctl get KIND [NAME] [-n NS] [-A] [-o yaml|json|wide]
//   weftctl delete -f FILE|DIR|- | KIND NAME...
//   weftctl proxy-status [PROXY] [-o json]             per proxy and type: SYNCED/STALE/NACKED
//   weftctl proxy-config clusters|listeners|routes|endpoints PROXY [-o short|json|yaml]
//   weftctl add-to-mesh | remove-from-mesh | exec | workloads | restart-proxy  (workload_commands)
// Server from --server, else $WEFT_SERVER, else http://127.0.0.1:15080. The commands live in
// resource_commands (kubectl's verbs) and proxy_commands (istioctl's), over client.h.
#include <CLI/CLI.hpp>
#include <cstdlib>

#include "ctl/client.h"
#include "ctl/proxy_commands.h"
#include "ctl/resource_commands.h"
#include "ctl/workload_commands.h"

int main(int argc, char** argv) {
  CLI::App app{"weftctl: controls the Weft service mesh (weftd's API)"};
  app.require_subcommand(1);
  // kubectl takes its global flags anywhere: `weftctl get vs -n prod`.
  app.fallthrough();
  const char* env = std::getenv("WEFT_SERVER");
  std::string server = env && *env ? env : "http://127.0.0.1:15080";
  std::string ns = "default";
  app.add_option("--server,-s", server, "weftd's API address (default $WEFT_SERVER)");
  app.add_option("--namespace,-n", ns, "the namespace (default \"default\")");

  std::string apply_file;
  CLI::App* apply = app.add_subcommand("apply", "create or update resources from files");
  apply->add_option("-f,--filename", apply_file, "FILE, DIR or - (stdin)")->required();

  weft::ctl::GetOptions get_options;
  CLI::App* get = app.add_subcommand("get", "show resources");
  get->add_option("KIND", get_options.kind, "kind (virtualservice, vs, destinationrules, ...)")
      ->required();
  get->add_option("NAME", get_options.name, "one resource");
  get->add_option("-o,--output", get_options.output, "wide, yaml or json")
      ->check(CLI::IsMember({"wide", "yaml", "json"}));
  get->add_flag("-A,--all-namespaces", get_options.all_namespaces, "every namespace");

  std::string delete_file;
  std::vector<std::string> delete_args;
  CLI::App* del = app.add_subcommand("delete", "delete resources");
  del->add_option("-f,--filename", delete_file, "FILE, DIR or - (stdin)");
  del->add_option("KIND_NAME", delete_args, "KIND NAME...");

  std::string status_proxy, status_output;
  CLI::App* status = app.add_subcommand(
      "proxy-status", "what each proxy was sent and answered, per type (SYNCED/STALE/NACKED)");
  status->alias("ps");
  status->add_option("PROXY", status_proxy, "a node id or its unique prefix: show its details");
  status->add_option("-o,--output", status_output, "json")->check(CLI::IsMember({"json"}));

  std::string config_type, config_proxy, config_output = "short";
  CLI::App* config =
      app.add_subcommand("proxy-config", "the xDS resources weftd holds for one proxy");
  config->alias("pc");
  config->add_option("TYPE", config_type, "clusters, listeners, routes or endpoints")
      ->required()
      ->check(CLI::IsMember({"clusters", "listeners", "routes", "endpoints", "cluster", "listener",
                             "route", "endpoint"}));
  config->add_option("PROXY", config_proxy, "a node id or its unique prefix")->required();
  config->add_option("-o,--output", config_output, "short (a table), json or yaml")
      ->check(CLI::IsMember({"short", "json", "yaml"}));

  weft::ctl::WorkloadCommandLine workload_cli;
  weft::ctl::RegisterWorkloadCommands(app, &workload_cli);
  weft::ctl::SplitCommand(&argc, argv, &workload_cli);

  CLI11_PARSE(app, argc, argv);
  // The workload commands fall back to the install record's API address, so they need to know
  // whether a server was named at all.
  const bool server_named = app.get_option("--server")->count() > 0 || (env && *env);
  if (auto code = weft::ctl::RunWorkloadCommand(workload_cli, server_named ? server : "", ns)) {
    return *code;
  }
  weft::ctl::Client client(server);
  if (*apply) return weft::ctl::Apply(client, apply_file, ns);
  if (*get) {
    get_options.ns = ns;
    return weft::ctl::Get(client, get_options);
  }
  if (*del) return weft::ctl::Delete(client, delete_file, delete_args, ns);
  if (*status) return weft::ctl::ProxyStatus(client, status_proxy, status_output);
  if (*config) {
    if (config_type.back() != 's') config_type += 's';  // istioctl takes both spellings
    return weft::ctl::ProxyConfig(client, config_type, config_proxy, config_output);
  }
  return 1;
}

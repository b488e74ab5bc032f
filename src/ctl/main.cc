// weftctl: kubectl-shaped command line for weftd.
//   weftctl apply -f FILE|DIR|-                         create or update (idempotent)
//   weftctl get KIND [NAME] [-n NS] [-A] [-o yaml|json|wide]
//   weftctl delete -f FILE|DIR|- | KIND NAME...
//   weftctl proxy-status [PROXY] [-o json]             per proxy and type: SYNCED/STALE/NACKED
//   weftctl proxy-config clusters|listeners|routes|endpoints PROXY [-o short|json|yaml]
//   weftctl install|upgrade|uninstall|precheck|verify-install|version     the control plane
//   weftctl add-to-mesh | remove-from-mesh | exec | workloads | restart-proxy  (workload_commands)
// Server from --server, else $WEFT_SERVER, else the install record of --revision (default
// revision when not given), else http://127.0.0.1:15080; apply and delete with none of those
// write to every installed revision (revisions.h). The commands live in resource_commands
// (kubectl's verbs), proxy_commands (istioctl's), install_commands, status_commands, precheck and
// workload_commands.

#include <CLI/CLI.hpp>
#include <cstdlib>

#include "ctl/client.h"
#include "ctl/install_commands.h"
#include "ctl/precheck.h"
#include "ctl/proxy_commands.h"
#include "ctl/resource_commands.h"
#include "ctl/revisions.h"
#include "ctl/status_commands.h"
#include "ctl/workload_commands.h"

int main(int argc, char** argv) {
  CLI::App app{"weftctl: controls the Weft service mesh (weftd's API)"};
  app.require_subcommand(1);
  // kubectl takes its global flags anywhere: `weftctl get vs -n prod`.
  app.fallthrough();
  std::string server, revision;
  std::string ns = "default";
  app.add_option("--server,-s", server,
                 "weftd's API address (default $WEFT_SERVER, else the --revision's install)");
  app.add_option("--revision,-r", revision,
                 "the control plane revision (default \"default\"): its server, or the one to "
                 "install, upgrade or uninstall");
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

  weft::ctl::InstallOptions install_options;
  CLI::App* install = app.add_subcommand(
      "install", "start weftd as a background service (idempotent; changed values restart it)");
  auto add_values_options = [&](CLI::App* cmd) {
    cmd->add_option("--set", install_options.sets, "KEY=VALUE, e.g. meshConfig.trustDomain=x")
        ->take_all();
    cmd->add_flag("-y,--skip-confirmation", install_options.yes, "do not ask before acting");
  };
  install->add_option("--profile,-p", install_options.profile, "default, minimal or demo");
  install->add_option("-f,--filename", install_options.files, "a values YAML file (repeatable)");
  add_values_options(install);

  CLI::App* upgrade = app.add_subcommand(
      "upgrade", "replace a revision's running weftd with this build's (data, ports kept)");
  add_values_options(upgrade);
  upgrade->add_flag("--force", install_options.force, "allow a downgrade");

  bool purge = false, force = false;
  CLI::App* uninstall = app.add_subcommand("uninstall", "stop a revision's weftd");
  uninstall->add_flag("--purge", purge, "also remove its data");
  uninstall->add_flag("--force", force, "even while workloads still use the revision");

  CLI::App* precheck =
      app.add_subcommand("precheck", "what would stop an install or add-to-mesh on this host");
  CLI::App* verify =
      app.add_subcommand("verify-install", "check each installed revision, one line per check");

  bool version_short = false;
  std::string version_output;
  CLI::App* version = app.add_subcommand("version", "client, control plane and proxy versions");
  version->add_flag("--short", version_short, "the summary lines only");
  version->add_option("-o,--output", version_output, "json")->check(CLI::IsMember({"json"}));

  weft::ctl::WorkloadCommandLine workload_cli;
  weft::ctl::RegisterWorkloadCommands(app, &workload_cli);
  weft::ctl::SplitCommand(&argc, argv, &workload_cli);

  CLI11_PARSE(app, argc, argv);
  {
    // The workload commands fall back to the install record's API address themselves.
    const char* env = std::getenv("WEFT_SERVER");
    const std::string named = !server.empty() ? server : (env != nullptr ? env : "");
    if (auto code = weft::ctl::RunWorkloadCommand(workload_cli, named, ns, revision)) return *code;
  }
  install_options.revision = revision.empty() ? "default" : revision;
  if (*install) return weft::ctl::Install(install_options);
  if (*upgrade) return weft::ctl::Upgrade(install_options);
  if (*uninstall) return weft::ctl::Uninstall(revision, purge, force);
  if (*precheck) return weft::ctl::Precheck();
  if (*verify) return weft::ctl::VerifyInstall(revision);
  if (*version) {
    const char* env = std::getenv("WEFT_SERVER");
    return weft::ctl::Version(version_short, version_output, revision,
                              !server.empty() ? server : (env != nullptr ? env : ""));
  }
  if (*apply) {
    return weft::ctl::ForEachWriteTargetReading(server, revision, apply_file,
                                                [&](weft::ctl::Client& c, const std::string& file) {
                                                  return weft::ctl::Apply(c, file, ns);
                                                });
  }
  if (*del) {
    return weft::ctl::ForEachWriteTargetReading(
        server, revision, delete_file, [&](weft::ctl::Client& c, const std::string& file) {
          return weft::ctl::Delete(c, file, delete_args, ns);
        });
  }
  weft::ctl::Client client(weft::ctl::ResolveServer(server, revision));
  if (*get) {
    get_options.ns = ns;
    return weft::ctl::Get(client, get_options);
  }
  if (*status) return weft::ctl::ProxyStatus(client, status_proxy, status_output);
  if (*config) {
    if (config_type.back() != 's') config_type += 's';  // istioctl takes both spellings
    return weft::ctl::ProxyConfig(client, config_type, config_proxy, config_output);
  }
  return 1;
}

// Interop: @grpc/grpc-js-xds (a third-party xDS client, pinned in api/package-lock.json) resolves
// xds:///<target> through weftd's ADS server, then calls the echo servers it was sent to.
//
//   node grpc_js_xds_client.js serve PORT TAG      # an echo server (prints "listening" when up)
//   node grpc_js_xds_client.js call TARGET N [options]  # N calls through xds:///TARGET, a JSON
//                                                     # line each (options: see 'call' below)
//
// GRPC_XDS_BOOTSTRAP names the bootstrap file (xds_servers -> weftd, node.id).
const path = require('path');
const modules = path.join(__dirname, '..', '..', 'api', 'node_modules');
const grpc = require(path.join(modules, '@grpc', 'grpc-js'));
const loader = require(path.join(modules, '@grpc', 'proto-loader'));

const definition = loader.loadSync(path.join(__dirname, 'echo.proto'));
const Echo = grpc.loadPackageDefinition(definition).weft.interop.Echo;

const [mode, arg1, arg2] = process.argv.slice(2);
if (mode === 'serve') {
  const server = new grpc.Server();
  server.addService(Echo.service, {
    Say: (call, callback) => callback(null, {message: call.request.message, server: arg2}),
  });
  server.bindAsync(`127.0.0.1:${arg1}`, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) {
      console.error(err);
      process.exit(1);
    }
    console.log('listening');
  });
} else if (mode === 'call') {
  // Options as weft-grpc-xds-client's: --metadata k=v (repeatable), --deadline-ms, --interval-ms,
  // --prefix. One JSON line per call as it ends; exit status 2 when any call failed.
  const options = {metadata: [], deadlineMs: 10000, intervalMs: 0, prefix: 'hello'};
  const rest = process.argv.slice(5);
  for (let i = 0; i + 1 < rest.length; i += 2) {
    const [flag, value] = [rest[i], rest[i + 1]];
    if (flag === '--metadata') options.metadata.push(value.split(/=(.*)/s).slice(0, 2));
    else if (flag === '--deadline-ms') options.deadlineMs = parseInt(value, 10);
    else if (flag === '--interval-ms') options.intervalMs = parseInt(value, 10);
    else if (flag === '--prefix') options.prefix = value;
  }
  require(path.join(modules, '@grpc', 'grpc-js-xds')).register();
  const client = new Echo(`xds:///${arg1}`, grpc.credentials.createInsecure());
  const total = parseInt(arg2 || '1', 10);
  let done = 0;
  let failed = 0;
  const next = () => {
    const deadline = new Date(Date.now() + options.deadlineMs);
    const metadata = new grpc.Metadata();
    for (const [key, value] of options.metadata) metadata.add(key, value);
    const call = done;
    client.Say({message: `${options.prefix}-${call}`}, metadata, {deadline}, (err, reply) => {
      if (err) {
        failed++;
        console.log(JSON.stringify({call, code: err.code, status: grpc.status[err.code],
                                    error: err.details || String(err)}));
      } else {
        console.log(JSON.stringify({call, code: 0, status: 'OK', ...reply}));
      }
      if (++done < total) return setTimeout(next, options.intervalMs);
      client.close();
      process.exit(failed ? 2 : 0);
    });
  };
  next();
} else {
  console.error('usage: serve PORT TAG | call TARGET N');
  process.exit(1);
}

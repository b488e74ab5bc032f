// Interop: @grpc/grpc-js-xds (a third-party xDS client, pinned in api/package-lock.json) resolves
// xds:///<target> through weftd's ADS server, then calls the echo servers it was sent to.
//
//   node grpc_js_xds_client.js serve PORT TAG      # an echo server (prints "listening" when up)
//   node grpc_js_xds_client.js call TARGET N       # N calls through xds:///TARGET, one JSON line each
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
  require(path.join(modules, '@grpc', 'grpc-js-xds')).register();
  const client = new Echo(`xds:///${arg1}`, grpc.credentials.createInsecure());
  const total = parseInt(arg2 || '1', 10);
  let done = 0;
  const next = () => {
    const deadline = new Date(Date.now() + 10000);
    client.Say({message: `hello ${done}`}, {deadline}, (err, reply) => {
      if (err) {
        console.log(JSON.stringify({error: err.details || String(err)}));
        process.exit(2);
      }
      console.log(JSON.stringify(reply));
      if (++done < total) return next();
      client.close();
      process.exit(0);
    });
  };
  next();
} else {
  console.error('usage: serve PORT TAG | call TARGET N');
  process.exit(1);
}

// `weftctl precheck`: what would stop `weftctl install` or `weftctl add-to-mesh` on this host,
// in plain words, before anything is changed (istioctl x precheck's role). Problems make the exit
// code 1; warnings (what works, but with limits) do not.
#pragma once

namespace weft::ctl {

int Precheck();

}  // namespace weft::ctl

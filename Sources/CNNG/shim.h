#ifndef SIGHTLINE_CNNG_SHIM_H
#define SIGHTLINE_CNNG_SHIM_H
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/http/http.h>
#endif

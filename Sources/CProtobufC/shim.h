#ifndef SIGHTLINE_CPROTOBUFC_SHIM_H
#define SIGHTLINE_CPROTOBUFC_SHIM_H
#include <protobuf-c/protobuf-c.h>
#endif

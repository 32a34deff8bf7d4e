#ifndef SIGHTLINE_CZLIB_SHIM_H
#define SIGHTLINE_CZLIB_SHIM_H
#include <zlib.h>
#endif

#ifndef SIGHTLINE_COPENBLAS_SHIM_H
#define SIGHTLINE_COPENBLAS_SHIM_H
#include <cblas.h>
#endif

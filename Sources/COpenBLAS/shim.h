#ifndef SIGHTLINE_COPENBLAS_SHIM_H
#define SIGHTLINE_COPENBLAS_SHIM_H
#include <cblas.h>
#include <stddef.h>

/* LAPACK's singular value decomposition (Fortran, column-major), built into libopenblas. The two
   trailing lengths are gfortran's hidden lengths of the character arguments (1 each). */
void sgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, float *a, const int *lda, float *s,
             float *u, const int *ldu, float *vt, const int *ldvt, float *work, const int *lwork, int *info,
             size_t jobu_length, size_t jobvt_length);
#endif

#ifndef SIGHTLINE_JPEG_DECODE_H
#define SIGHTLINE_JPEG_DECODE_H
#include <stddef.h>

/* Reads a JPEG's size without decoding it. Returns 0 on success, else -1 and a message in
   `error` (NUL-terminated, at most `error_size` bytes). */
int sightline_jpeg_size(const unsigned char *data, size_t size, int *width, int *height, char *error, size_t error_size);

/* Decodes a JPEG of any colour space to 8-bit grey into `grey` (width × height bytes, sized by
   sightline_jpeg_size). libjpeg reports corrupt data with longjmp here, never by exiting the
   process. Returns 0 on success, else -1 and a message in `error`. */
int sightline_jpeg_decode_grey(const unsigned char *data, size_t size, unsigned char *grey, size_t grey_size,
                               char *error, size_t error_size);
#endif

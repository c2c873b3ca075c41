// zlib from the system (Debian: zlib1g-dev), for gzip-encoded OTLP requests.
#include <zlib.h>

#include "pipeline/version.h"

namespace logpipe {

const char* Version() { return LOGPIPE_VERSION; }

}  // namespace logpipe

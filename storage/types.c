/* Registration of every value type (see types.h). Strings need none; the
 * collections register their own functions from their modules. */
#include "storage/types.h"

#include "storage/quicklist.h"
#include "storage/set.h"
#include "storage/stream.h"
#include "storage/thash.h"
#include "storage/zset.h"

void storage_register_types(void) {
    quicklist_register();
    set_register();
    thash_register();
    zset_register();
    stream_register();
}

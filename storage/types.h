/* Every value type's destructor, size and copy functions, registered with
 * storage/object in one call: whoever creates or decodes values (the
 * server, tools, tests) calls storage_register_types once first. */
#ifndef KR_STORAGE_TYPES_H
#define KR_STORAGE_TYPES_H

void storage_register_types(void);

#endif

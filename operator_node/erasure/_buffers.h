/*
 * A set of Python buffers held for the length of one call: shared by the erasure extensions.
 * Include after Python.h.
 */
#ifndef OPERATOR_NODE_ERASURE_BUFFERS_H
#define OPERATOR_NODE_ERASURE_BUFFERS_H

typedef struct {
    Py_ssize_t count;
    Py_buffer *views;
    const uint8_t **ptrs;
} buffer_set;

static void buffers_release(buffer_set *set) {
    for (Py_ssize_t i = 0; i < set->count; i++) PyBuffer_Release(&set->views[i]);
    PyMem_Free(set->views);
    PyMem_Free(set->ptrs);
    set->count = 0;
    set->views = NULL;
    set->ptrs = NULL;
}

#endif /* OPERATOR_NODE_ERASURE_BUFFERS_H */

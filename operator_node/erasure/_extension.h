/*
 * What the erasure extensions (_rs.c, _gf16.c) share on the Python side: a set of buffers held
 * for the length of one call, and the function listing the kernels this CPU can run.
 * Include after Python.h.
 */
#ifndef OPERATOR_NODE_ERASURE_EXTENSION_H
#define OPERATOR_NODE_ERASURE_EXTENSION_H

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

/* Defines FN, a module function returning the names of TABLE's COUNT kernels that this CPU
 * supports, in table order (fastest first). Entries need `name` and `supported()`. */
#define DEFINE_KERNEL_NAMES(FN, TABLE, COUNT)                                  \
    static PyObject *FN(PyObject *module, PyObject *unused) {                \
        (void)module;                                                          \
        (void)unused;                                                          \
        PyObject *names = PyList_New(0);                                       \
        if (names == NULL) return NULL;                                        \
        for (int i = 0; i < (COUNT); i++) {                                    \
            if (!(TABLE)[i].supported()) continue;                             \
            PyObject *name = PyUnicode_FromString((TABLE)[i].name);            \
            if (name == NULL || PyList_Append(names, name) < 0) {              \
                Py_XDECREF(name);                                              \
                Py_DECREF(names);                                              \
                return NULL;                                                   \
            }                                                                  \
            Py_DECREF(name);                                                   \
        }                                                                      \
        PyObject *result = PyList_AsTuple(names);                              \
        Py_DECREF(names);                                                      \
        return result;                                                         \
    }

#endif /* OPERATOR_NODE_ERASURE_EXTENSION_H */

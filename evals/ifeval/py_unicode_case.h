// Python's str.isupper() for one character (CPython 3.11, Unicode 14.0), as a range table.
#pragma once

namespace packbench::evals {

// chr(c).isupper() in CPython 3.11: the character has Unicode's Uppercase property (Lu and
// Other_Uppercase; not titlecase letters such as U+01C5).
bool py_char_isupper(char32_t c);

}  // namespace packbench::evals

// results/ module version string (the library needs at least one translation unit).
namespace packbench::results { const char* module_version() { return "0.1.0"; } }

-- Reports what the sandbox lets a rule see.
local function refused(f, ...) local ok, err = pcall(f, ...) return not ok and tostring(err) or "allowed" end
return {
  match = function(tweet)
    local here = tweet.dir
    local f = io.open(here .. "/sandbox.lua", "r")
    local first = f and f:read("l")
    if f then f:close() end
    local lines = 0
    for _ in io.lines(here .. "/sandbox.lua") do lines = lines + 1 end
    return {
      os_execute = os.execute == nil, os_remove = os.remove == nil, os_exit = os.exit == nil,
      io_popen = io.popen == nil, io_write = io.write == nil, io_read = io.read == nil,
      debug = debug == nil, string_dump = string.dump == nil, dofile = dofile == nil,
      loadfile = loadfile == nil, loadlib = package.loadlib == nil, cpath = package.cpath,
      os_kept = type(os.time) == "function" and type(os.clock) == "function" and type(os.date) == "function",
      bytecode = refused(function() assert(load("\27LuaT\0", "bin", "b")) end),
      bytecode_default_mode = select(2, load("\27LuaT\0")),
      text_load = load("return 1 + 1")(),
      write_open = refused(io.open, here .. "/x.txt", "w"),
      append_open = refused(io.open, here .. "/x.txt", "a+"),
      read_open = first,
      lines = lines > 5,
      stdin_lines = refused(io.lines),
      secret = os.getenv("AWS_SECRET_ACCESS_KEY") == nil and os.getenv("CONSUMERSECRETKEY") == nil
               and os.getenv("BEARERTOKEN") == nil and os.getenv("ACCESSTOKENSECRET") == nil,
      not_secret = os.getenv("TM_TEST_VISIBLE"),
      cjson = require("cjson").encode({ 1 }),
      c_module = refused(require, "lfs") ~= "allowed",
      globals_libs = type(string.format) == "function" and type(table.concat) == "function"
                     and type(math.floor) == "function" and type(utf8.char) == "function"
                     and type(coroutine.wrap) == "function",
    }
  end,
}

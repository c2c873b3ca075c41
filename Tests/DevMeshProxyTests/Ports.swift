import DevMeshSupervisor

func freeLoopbackPort() throws -> Int { try PortAllocator.freePort() }

import DevMeshTLS
import Testing

@Suite("DevMeshHome")
struct DevMeshHomeTests {
    @Test("DEVMESH_HOME wins, then XDG_DATA_HOME, then HOME")
    func precedence() {
        let all = ["DEVMESH_HOME": "/x/dm", "XDG_DATA_HOME": "/x/data", "HOME": "/home/ana"]
        #expect(DevMeshHome.resolve(environment: all) == "/x/dm")
        #expect(DevMeshHome.resolve(environment: ["XDG_DATA_HOME": "/x/data", "HOME": "/home/ana"]) == "/x/data/devmesh")
        #expect(DevMeshHome.resolve(environment: ["HOME": "/home/ana"]) == "/home/ana/.local/share/devmesh")
        #expect(DevMeshHome.resolve(environment: ["HOME": "/home/ana/"]) == "/home/ana/.local/share/devmesh")
    }

    @Test("empty values and a relative XDG_DATA_HOME count as unset")
    func unsetValues() {
        let env = ["DEVMESH_HOME": "", "XDG_DATA_HOME": "relative/data", "HOME": "/home/ana"]
        #expect(DevMeshHome.resolve(environment: env) == "/home/ana/.local/share/devmesh")
        #expect(DevMeshHome.resolve(environment: ["XDG_DATA_HOME": ""]) == ".local/share/devmesh")
    }

    @Test("the CA lives in <home>/ca")
    func caDirectory() {
        #expect(DevMeshHome.caDirectory(home: "/x/dm") == "/x/dm/ca")
    }
}

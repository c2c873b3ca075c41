import DevMeshCore
import Testing

@Suite struct LogTests {
    @Test func framerKeepsEveryLineWhole() {
        var framer = LineFramer(maxLength: 8)
        #expect(framer.feed(Array("hel".utf8)) == [])
        #expect(framer.feed(Array("lo\r\nwor".utf8)) == ["hello"])
        #expect(framer.feed(Array("ld\n\n".utf8)) == ["world", ""])
        #expect(framer.feed(Array("0123456789".utf8)) == ["01234567"])
        #expect(framer.finish() == "89")
        #expect(framer.finish() == nil)
    }

    @Test func framerSurvivesInvalidUTF8() {
        var framer = LineFramer()
        #expect(framer.feed([0x61, 0xFF, 0x62, 0x0A]) == ["a\u{FFFD}b"])
    }

    @Test func formatterAlignsPrefixes() {
        let f = LogFormatter(instances: ["users.1", "inventory.1"], services: ["users", "inventory"], useColor: false, timestamps: false)
        let a = f.format(LogLine(instance: "users.1", service: "users", stream: .stdout, timestamp: 0, text: "hi"))
        let b = f.format(LogLine(instance: "inventory.1", service: "inventory", stream: .stderr, timestamp: 0, text: "yo"))
        #expect(a == "users.1     | hi")
        #expect(b == "inventory.1 | yo")
        let warn = f.format(LogLine(instance: "devmesh", service: "devmesh", stream: .devmesh, timestamp: 0, text: "x", severity: .warning))
        #expect(warn == "devmesh     | warning: x")
    }

    @Test func formatterTimestampsAndColors() {
        let f = LogFormatter(instances: ["a.1"], services: ["a"], useColor: true, timestamps: true, utcOffset: 3600)
        let line = f.format(LogLine(instance: "a.1", service: "a", stream: .stdout, timestamp: 45_296.25, text: "t"))
        #expect(line == "\u{1B}[36m13:34:56.250 a.1     |\u{1B}[0m t")
    }
}

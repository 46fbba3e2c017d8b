import Engine
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Output files are written through the path the user named: links followed, devices and folders refused,
/// and a failed write leaves the previous file as it was.
final class OutputFileTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "output-file-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    func contents(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    func testASymbolicLinkIsFollowedAndKept() throws {
        let target = folder + "/results.json"
        let link = folder + "/latest.json"
        try "old".write(toFile: target, atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "results.json")
        try OutputFile(link, option: "--json").write(Data("new".utf8))
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), "results.json", "the link stays a link")
        XCTAssertEqual(try contents(target), "new")
    }

    func testDevicesFoldersAndMissingFoldersAreRefusedBeforeWriting() throws {
        XCTAssertThrowsError(try OutputFile("/dev/null", option: "--json")) {
            XCTAssertEqual("\($0)", "invalid --json: /dev/null is a device, not a regular file")
        }
        XCTAssertThrowsError(try OutputFile(folder, option: "--markdown")) {
            XCTAssertTrue("\($0)".contains("is a folder, not a regular file"), "\($0)")
        }
        XCTAssertThrowsError(try OutputFile(folder + "/absent/x.json", option: "--json")) {
            XCTAssertTrue("\($0)".contains("does not exist"), "\($0)")
        }
        let file = folder + "/plain"
        try "x".write(toFile: file, atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try OutputFile.checkFolder(file, option: "--plots")) {
            XCTAssertTrue("\($0)".contains("exists and is not a folder"), "\($0)")
        }
    }

    /// A file-size limit stands in for a full disk: the write fails with a named error and the old file is intact.
    func testAFailedWriteLeavesThePreviousFileIntact() throws {
        #if canImport(Glibc)
        let path = folder + "/results.json"
        try "previous results".write(toFile: path, atomically: false, encoding: .utf8)
        let output = try OutputFile(path, option: "--json")
        var saved = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
        let previousHandler = signal(SIGXFSZ, SIG_IGN)
        var small = rlimit(rlim_cur: 4096, rlim_max: saved.rlim_max)
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &small)
        XCTAssertThrowsError(try output.write(Data(repeating: 0x41, count: 100_000))) {
            XCTAssertTrue("\($0)".hasPrefix("cannot write \(path): "), "\($0)")
        }
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
        signal(SIGXFSZ, previousHandler)
        XCTAssertEqual(try contents(path), "previous results")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["results.json"], "no temporary file left behind")
        #endif
    }
}

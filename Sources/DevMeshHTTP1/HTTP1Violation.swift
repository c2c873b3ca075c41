/// Why a message was refused. Each maps to the status a server answers with; the connection is
/// always closed afterwards, since the framing of anything that follows cannot be trusted.
public struct HTTP1Violation: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        case requestLineTooLong
        case headersTooLarge
        case tooManyHeaders
        case malformedRequestLine
        case malformedStatusLine
        case unsupportedVersion
        case malformedHeader
        case whitespaceBeforeColon
        case obsoleteLineFolding
        case invalidCharacter
        case bareCR
        case bareLF
        case missingHost
        case multipleHost
        case invalidHost
        case invalidContentLength
        case multipleContentLength
        case contentLengthWithTransferEncoding
        case transferEncodingInHTTP10
        case unknownTransferCoding
        case chunkedNotFinal
        case invalidChunkSize
        case chunkSizeOverflow
        case invalidChunkExtension
        case invalidChunkTerminator
        case invalidTrailer
        case unsupportedExpectation
    }

    public var kind: Kind
    /// A short explanation for the error body and the access log.
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// The status a server answers with.
    public var status: Int {
        switch kind {
        case .requestLineTooLong: return 414
        case .headersTooLarge, .tooManyHeaders: return 431
        case .unsupportedVersion: return 505
        case .unknownTransferCoding: return 501
        case .unsupportedExpectation: return 417
        default: return 400
        }
    }

    public var description: String { detail }
}

using System.Text;

namespace PublishingPoint.Server.Transport;

/// <summary>What <see cref="RequestHead.Read"/> makes of the bytes at the front of a connection's input.</summary>
internal enum HeadKind
{
    /// <summary>Anything but a plain GET or HEAD: a body, an upgrade, TLS, HTTP/2, another version, a byte out of place.</summary>
    Other,

    /// <summary>No blank line yet.</summary>
    Incomplete,

    /// <summary>A GET or HEAD without a body, every line well formed: Kestrel may be handed exactly these bytes.</summary>
    Plain,
}

/// <summary>Kestrel's limits on a request head (Kestrel:Limits), which the lane leaves Kestrel to enforce.</summary>
internal readonly record struct HeadLimits(int RequestLineBytes, int HeaderBytes, int Headers)
{
    public static HeadLimits Default { get; } = new(RequestHead.MaxBytes, RequestHead.MaxBytes, 100);
}

/// <summary>
/// One HTTP/1.1 request head as <see cref="AnswerReplay"/> reads it (RFC 9112 sections 3 and 5), stricter than Kestrel:
/// only CRLF line ends, no folded lines, printable ASCII values, one Host, nothing that announces a body or an upgrade.
/// Whatever is not <see cref="HeadKind.Plain"/> is left to Kestrel, byte for byte, so the two never read one stream two ways.
/// </summary>
internal readonly ref struct RequestHead
{
    public const int MaxBytes = 8 * 1024;
    private const int MaxHeaders = 64;
    private const int MaxKeyPart = 512;

    /// <summary>Bytes through the blank line.</summary>
    public int Length { get; init; }

    public bool IsGet { get; init; }

    public ReadOnlySpan<byte> Target { get; init; }

    public ReadOnlySpan<byte> Host { get; init; }

    public ReadOnlySpan<byte> AcceptEncoding { get; init; }

    /// <summary>One Origin header came (a page's cross-origin request); its value is not kept: only answers that allow every origin are replayed to it.</summary>
    public bool HasOrigin { get; init; }

    /// <summary>
    /// A GET whose answer depends on nothing but its target, Host, Accept-Encoding and whether an Origin came (every other
    /// header is one a player or a browser sends that no answer of ours reads), kept alive, with no percent-encoding or
    /// query in its target.
    /// </summary>
    public bool Replayable { get; init; }

    /// <summary>Request headers a replayed answer may be given for: what players, browsers and CDNs send that no answer depends on.</summary>
    public static bool Ignorable(ReadOnlySpan<char> name) => name.Length switch
    {
        3 => name.Equals("dnt", StringComparison.OrdinalIgnoreCase),
        6 => name.Equals("accept", StringComparison.OrdinalIgnoreCase) || name.Equals("pragma", StringComparison.OrdinalIgnoreCase),
        7 => name.Equals("referer", StringComparison.OrdinalIgnoreCase),
        8 => name.Equals("priority", StringComparison.OrdinalIgnoreCase),
        9 => name.Equals("sec-ch-ua", StringComparison.OrdinalIgnoreCase),
        10 => name.Equals("user-agent", StringComparison.OrdinalIgnoreCase),
        13 => name.Equals("cache-control", StringComparison.OrdinalIgnoreCase),
        14 => name.Equals("sec-fetch-dest", StringComparison.OrdinalIgnoreCase) || name.Equals("sec-fetch-mode", StringComparison.OrdinalIgnoreCase)
            || name.Equals("sec-fetch-site", StringComparison.OrdinalIgnoreCase),
        15 => name.Equals("accept-language", StringComparison.OrdinalIgnoreCase),
        16 => name.Equals("sec-ch-ua-mobile", StringComparison.OrdinalIgnoreCase),
        18 => name.Equals("sec-ch-ua-platform", StringComparison.OrdinalIgnoreCase),
        21 => name.Equals("x-playback-session-id", StringComparison.OrdinalIgnoreCase),
        _ => false,
    };

    /// <param name="limits">Kestrel's own, where lower than the lane's: a head past them is Kestrel's to refuse (414, 431).</param>
    public static HeadKind Read(ReadOnlySpan<byte> input, HeadLimits limits, out RequestHead head)
    {
        head = default;
        var end = input.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            return input.Length >= MaxBytes ? HeadKind.Other : HeadKind.Incomplete;
        }

        var lineEnd = input.IndexOf("\r\n"u8);
        if (end + 4 > MaxBytes || lineEnd + 2 > limits.RequestLineBytes || end - lineEnd > limits.HeaderBytes
            || !RequestLine(input[..lineEnd], out var get, out var target))
        {
            return HeadKind.Other;
        }

        var replayable = get && target.Length <= MaxKeyPart && target.IndexOfAny("%?#\\"u8) < 0;
        ReadOnlySpan<byte> host = default, encoding = default;
        int hosts = 0, encodings = 0, origins = 0, count = 0;
        Span<char> name = stackalloc char[32];
        for (var at = lineEnd + 2; at < end + 2;)
        {
            var length = input[at..].IndexOf("\r\n"u8);
            var line = input.Slice(at, length);
            at += length + 2;
            var colon = line.IndexOf((byte)':');
            if (++count > Math.Min(MaxHeaders, limits.Headers) || colon <= 0 || !IsToken(line[..colon]))
            {
                return HeadKind.Other;
            }

            var value = line[(colon + 1)..].Trim(" \t"u8);
            if (!IsFieldValue(value))
            {
                return HeadKind.Other;
            }

            var known = colon <= name.Length && Ascii.ToUtf16(line[..colon], name, out _) == System.Buffers.OperationStatus.Done;
            var field = known ? name[..colon] : default;
            switch (Classify(field, value))
            {
                case Field.Refused:
                    return HeadKind.Other;
                case Field.Host:
                    hosts++;
                    host = value;
                    break;
                case Field.AcceptEncoding:
                    encodings++;
                    encoding = value;
                    break;
                case Field.Origin:
                    origins++;
                    break;
                case Field.Close:
                    replayable = false;
                    break;
                case Field.Other:
                    replayable &= known && Ignorable(field);
                    break;
            }
        }

        if (hosts != 1)
        {
            return HeadKind.Other;
        }

        head = new RequestHead
        {
            Length = end + 4,
            IsGet = get,
            Target = target,
            Host = host,
            AcceptEncoding = encoding,
            HasOrigin = origins > 0,
            Replayable = replayable && encodings <= 1 && origins <= 1 && host.Length <= MaxKeyPart && encoding.Length <= MaxKeyPart,
        };
        return HeadKind.Plain;
    }

    private enum Field
    {
        Other,
        Host,
        AcceptEncoding,
        Origin,
        KeepAlive,
        Close,
        Refused,
    }

    // Content-Length and Transfer-Encoding announce a body, Upgrade and HTTP2-Settings another protocol, Expect a
    // 100-continue: none of them a player's GET.
    private static Field Classify(ReadOnlySpan<char> name, ReadOnlySpan<byte> value)
    {
        if (name.Equals("host", StringComparison.OrdinalIgnoreCase))
        {
            return Field.Host;
        }

        if (name.Equals("accept-encoding", StringComparison.OrdinalIgnoreCase))
        {
            return Field.AcceptEncoding;
        }

        if (name.Equals("origin", StringComparison.OrdinalIgnoreCase))
        {
            // An empty Origin is no page's (the CORS service reads it as none): its answer is not the pages' one.
            return value.IsEmpty ? Field.Other : Field.Origin;
        }

        if (name.Equals("connection", StringComparison.OrdinalIgnoreCase))
        {
            return Ascii.EqualsIgnoreCase(value, "keep-alive"u8) ? Field.KeepAlive
                : Ascii.EqualsIgnoreCase(value, "close"u8) ? Field.Close
                : Field.Refused;
        }

        return name.Equals("content-length", StringComparison.OrdinalIgnoreCase) || name.Equals("transfer-encoding", StringComparison.OrdinalIgnoreCase)
            || name.Equals("upgrade", StringComparison.OrdinalIgnoreCase) || name.Equals("expect", StringComparison.OrdinalIgnoreCase)
            || name.Equals("http2-settings", StringComparison.OrdinalIgnoreCase) || name.Equals("te", StringComparison.OrdinalIgnoreCase)
            ? Field.Refused
            : Field.Other;
    }

    private static bool RequestLine(ReadOnlySpan<byte> line, out bool get, out ReadOnlySpan<byte> target)
    {
        get = line.StartsWith("GET "u8);
        target = default;
        var rest = get ? line[4..] : line.StartsWith("HEAD "u8) ? line[5..] : default;
        if (rest.IsEmpty || !rest.EndsWith(" HTTP/1.1"u8))
        {
            return false;
        }

        target = rest[..^9];
        return target is [(byte)'/', ..] && target.IndexOfAnyExceptInRange((byte)0x21, (byte)0x7E) < 0;
    }

    // tchar (RFC 9110 5.6.2)
    private static bool IsToken(ReadOnlySpan<byte> name)
    {
        foreach (var b in name)
        {
            if (!(char.IsAsciiLetterOrDigit((char)b) || "!#$%&'*+-.^_`|~"u8.Contains(b)))
            {
                return false;
            }
        }

        return true;
    }

    // Printable ASCII, spaces and tabs: no obs-text, no bare CR or LF, no other control byte.
    private static bool IsFieldValue(ReadOnlySpan<byte> value)
    {
        foreach (var b in value)
        {
            if (b is < 0x20 and not (byte)'\t' or > 0x7E)
            {
                return false;
            }
        }

        return true;
    }
}

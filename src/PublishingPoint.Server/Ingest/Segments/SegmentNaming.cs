using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Ingest.Segments;

/// <summary>
/// Which stream a file PUT by a segmenting encoder belongs to. ffmpeg's DASH output names files
/// init-stream0.m4s / chunk-stream0-00001.m4s (one stream per representation); its HLS fMP4 output names
/// them init.mp4 / index0.m4s (one stream for the variant). The stream id is the name without the words
/// init/chunk/segment, a sequence number after a separator, and the extension; a segment whose name matches no stream with an
/// initialization belongs to the only such stream, if there is one.
/// </summary>
internal static class SegmentNaming
{
    private static readonly string[] _words = ["init", "chunk", "segment", "seg"];

    public static bool IsInit(string file) => Stem(file).Contains("init", StringComparison.OrdinalIgnoreCase);

    /// <param name="numbered">The file name ends in a sequence number even without a separator (index0.ts).</param>
    public static string StreamId(Point? point, string file, bool numbered = false)
    {
        var candidate = Candidate(file, numbered);
        if (point is null || IsInit(file))
        {
            return candidate;
        }

        StreamFeed? only = null;
        StreamFeed? ofFolder = null;
        var folder = Folder(file);
        var count = 0;
        foreach (var feed in point.Streams())
        {
            // A stream whose initialization is still being uploaded counts: segment uploads race with it.
            if (feed.Archive is null && feed.Connections == 0)
            {
                continue;
            }

            if (feed.Id == candidate)
            {
                return candidate;
            }

            if (folder is not null && feed.Id == folder)
            {
                ofFolder = feed;
            }

            only = feed;
            count++;
        }

        // ffmpeg's HLS fMP4 output with a folder per variant (stream_%v/index.m3u8) names the init stream_0/init_0.mp4
        // and the segments stream_0/index0.m4s: the folder is the stream.
        return ofFolder?.Id ?? (count == 1 ? only!.Id : candidate);
    }

    // The folder part of a file name as a stream id (stream_0/index0.m4s: "stream_0"), or null at the top.
    private static string? Folder(string file)
    {
        var slash = file.LastIndexOf('/');
        return slash > 0 && file[..slash].Replace('/', '_') is var folder && PointPath.IsSafeSegment(folder) ? folder : null;
    }

    internal static string Candidate(string file, bool numbered = false)
    {
        var slash = file.LastIndexOf('/');
        var prefix = slash < 0 ? string.Empty : file[..slash].Replace('/', '_') + "_";
        var stem = Stem(file);
        foreach (var word in _words)
        {
            if (stem.StartsWith(word, StringComparison.OrdinalIgnoreCase))
            {
                stem = stem[word.Length..].TrimStart('-', '_', '.');
            }

            if (stem.EndsWith(word, StringComparison.OrdinalIgnoreCase))
            {
                stem = stem[..^word.Length].TrimEnd('-', '_', '.');
            }
        }

        // A sequence number follows a separator (chunk-stream0-00001); digits glued to a name are part of it (stream0).
        var digits = stem.TrimEnd('0', '1', '2', '3', '4', '5', '6', '7', '8', '9');
        if (digits.Length < stem.Length && digits.Length > 0 && (numbered || digits[^1] is '-' or '_' or '.'))
        {
            stem = digits.TrimEnd('-', '_', '.');
        }

        // An HLS init file (.mp4; DASH's are .m4s, several to a folder) in a folder, named only by a variant number
        // (stream_0/init_0.mp4) or not at all, is the folder's stream.
        if (prefix.Length > 0 && IsInit(file) && file.EndsWith(".mp4", StringComparison.OrdinalIgnoreCase) && (stem.Length == 0 || stem.All(char.IsAsciiDigit)))
        {
            return Folder(file) ?? "default";
        }

        var id = prefix + (stem.Length == 0 ? "default" : stem);
        return PointPath.IsSafeSegment(id) ? id : "default";
    }

    private static string Stem(string file)
    {
        var name = file[(file.LastIndexOf('/') + 1)..];
        var dot = name.LastIndexOf('.');
        return dot > 0 ? name[..dot] : name;
    }
}

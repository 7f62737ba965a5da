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

            only = feed;
            count++;
        }

        return count == 1 ? only!.Id : candidate;
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

using System.Globalization;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>Small readers for playlist text: tag values, attribute lists, segment lines.</summary>
internal static class HlsText
{
    public static string[] Lines(string playlist) => playlist.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public static string? Tag(string playlist, string tag) =>
        Lines(playlist).FirstOrDefault(l => l.StartsWith(tag + ":", StringComparison.Ordinal))?[(tag.Length + 1)..];

    public static long LongTag(string playlist, string tag) =>
        long.Parse(Tag(playlist, tag) ?? throw new InvalidDataException($"{tag} missing:\n{playlist}"), CultureInfo.InvariantCulture);

    /// <summary>(duration, uri) of every segment, in order.</summary>
    /// <summary>The master's audio-only variant (a TS master lists one when the point has audio).</summary>
    public static string AudioOnlyVariant(string master) =>
        AttributeLines(master, "#EXT-X-STREAM-INF").Select(l => l.Uri).Single(u => u is not null && u.StartsWith("hls/audio-", StringComparison.Ordinal))!;

    public static List<(double Duration, string Uri)> Segments(string playlist)
    {
        var lines = Lines(playlist);
        var result = new List<(double, string)>();
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith("#EXTINF:", StringComparison.Ordinal) && i + 1 < lines.Length)
            {
                var value = lines[i]["#EXTINF:".Length..].TrimEnd(',');
                result.Add((double.Parse(value, CultureInfo.InvariantCulture), lines[i + 1]));
            }
        }

        return result;
    }

    /// <summary>Attribute lists of every line with the tag, e.g. EXT-X-STREAM-INF, each followed by the URI line when there is one.</summary>
    public static List<(Dictionary<string, string> Attributes, string? Uri)> AttributeLines(string playlist, string tag)
    {
        var lines = Lines(playlist);
        var result = new List<(Dictionary<string, string>, string?)>();
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith(tag + ":", StringComparison.Ordinal))
            {
                var uri = i + 1 < lines.Length && !lines[i + 1].StartsWith('#') ? lines[i + 1] : null;
                result.Add((Attributes(lines[i][(tag.Length + 1)..]), uri));
            }
        }

        return result;
    }

    private static Dictionary<string, string> Attributes(string list)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var at = 0;
        while (at < list.Length)
        {
            var eq = list.IndexOf('=', at);
            var name = list[at..eq];
            string value;
            if (list[eq + 1] == '"')
            {
                var close = list.IndexOf('"', eq + 2);
                value = list[(eq + 2)..close];
                at = close + 2;
            }
            else
            {
                var comma = list.IndexOf(',', eq);
                value = comma < 0 ? list[(eq + 1)..] : list[(eq + 1)..comma];
                at = comma < 0 ? list.Length : comma + 1;
            }

            result[name] = value;
        }

        return result;
    }
}

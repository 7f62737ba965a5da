using System.Globalization;
using System.Net;
using System.Xml.Linq;

namespace PublishingPoint.Server.Tests.Reliability;

/// <summary>One GET a player made and what came back.</summary>
internal sealed record Fetched(string Url, HttpStatusCode Status, long? DeclaredLength, int Received, string? Error);

/// <summary>
/// What a player does against a point: Smooth manifest and its fragments, HLS master, media playlists, init
/// sections and segments, the DASH MPD. Bounded: at most <c>perList</c> fragments or segments per list.
/// A response is checked whole: the bytes received must match its Content-Length (no torn body).
/// </summary>
internal static class PlayerCrawl
{
    public static async Task<List<Fetched>> RunAsync(HttpClient http, string point, int perList, CancellationToken cancellationToken = default)
    {
        var fetched = new List<Fetched>();
        var manifest = await GetAsync(http, point + "/Manifest", fetched, cancellationToken);
        if (manifest is not null && TryParse(manifest, out var xml))
        {
            foreach (var stream in xml.Root!.Elements("StreamIndex"))
            {
                var template = (string?)stream.Attribute("Url");
                var bitrate = (string?)stream.Elements("QualityLevel").FirstOrDefault()?.Attribute("Bitrate");
                if (template is null || bitrate is null)
                {
                    continue;
                }

                long time = 0;
                var n = 0;
                foreach (var c in stream.Elements("c"))
                {
                    time = (long?)c.Attribute("t") ?? time;
                    if (n++ < perList)
                    {
                        var url = template.Replace("{bitrate}", bitrate, StringComparison.Ordinal)
                            .Replace("{start time}", time.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
                        await GetAsync(http, point + "/" + url, fetched, cancellationToken);
                    }

                    time += (long?)c.Attribute("d") ?? 0;
                }
            }
        }

        var master = await GetAsync(http, point + "/master.m3u8", fetched, cancellationToken);
        foreach (var playlistUri in Uris(master))
        {
            var playlist = await GetAsync(http, point + "/" + playlistUri, fetched, cancellationToken);
            var directory = playlistUri.Contains('/', StringComparison.Ordinal) ? playlistUri[..(playlistUri.LastIndexOf('/') + 1)] : "";
            foreach (var segment in Uris(playlist).Take(perList))
            {
                await GetAsync(http, point + "/" + directory + segment, fetched, cancellationToken);
            }
        }

        await GetAsync(http, point + "/manifest.mpd", fetched, cancellationToken);
        return fetched;
    }

    private static bool TryParse(string text, out XDocument xml)
    {
        try
        {
            xml = XDocument.Parse(text);
            return true;
        }
        catch (System.Xml.XmlException)
        {
            xml = new XDocument();
            return false;
        }
    }

    /// <summary>URI lines and EXT-X-MAP / EXT-X-MEDIA URIs of a playlist.</summary>
    private static IEnumerable<string> Uris(string? playlist)
    {
        if (playlist is null)
        {
            yield break;
        }

        foreach (var line in playlist.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!line.StartsWith('#'))
            {
                yield return line;
            }
            else if (line.IndexOf("URI=\"", StringComparison.Ordinal) is var at and >= 0)
            {
                var start = at + 5;
                var end = line.IndexOf('"', start);
                if (end > start)
                {
                    yield return line[start..end];
                }
            }
        }
    }

    private static async Task<string?> GetAsync(HttpClient http, string url, List<Fetched> fetched, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            fetched.Add(new Fetched(url, response.StatusCode, response.Content.Headers.ContentLength, bytes.Length, null));
            return response.IsSuccessStatusCode && !url.EndsWith(".ts", StringComparison.Ordinal) && !url.EndsWith(".m4s", StringComparison.Ordinal)
                ? System.Text.Encoding.UTF8.GetString(bytes)
                : null;
        }
        catch (HttpRequestException e)
        {
            fetched.Add(new Fetched(url, 0, null, 0, e.Message));
            return null;
        }
    }

    /// <summary>5xx, a transport error, or a body shorter or longer than its Content-Length.</summary>
    public static bool IsBad(Fetched f) =>
        (int)f.Status >= 500 || f.Error is not null || (f.DeclaredLength is { } length && length != f.Received);
}

using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using PublishingPoint.Server.Tests.Hls;

namespace PublishingPoint.Server.Tests.Publishing;

/// <summary>Reads a published point like a player would, from any base URL (a bucket, or the origin).</summary>
internal sealed partial class BucketReader(HttpClient http, Func<string, Uri> url)
{
    /// <summary>
    /// The object's text, or null when it is not there (404). s3rver (unlike S3) overwrites a key in place: a GET while
    /// live playlists are rewritten can be cut short, or fail with a 500 when it reads the key's half-written metadata
    /// file. Such a read is retried, a few times; only a 404 (or a 500 that persists) counts as absent.
    /// </summary>
    public async Task<string?> TextOrNullAsync(string key)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                using var response = await http.GetAsync(url(key));
                if ((int)response.StatusCode >= 500 && attempt < 5)
                {
                    throw new HttpRequestException($"store answered {(int)response.StatusCode}");
                }

                if (response.StatusCode != HttpStatusCode.OK)
                {
                    return null;
                }

                var text = await response.Content.ReadAsStringAsync();
                if (key.EndsWith(".m3u8", StringComparison.Ordinal) && !text.EndsWith('\n') && attempt < 5)
                {
                    throw new HttpRequestException("torn playlist read"); // every playlist we write ends with a newline
                }

                return text;
            }
            catch (HttpRequestException) when (attempt < 5)
            {
                await Task.Delay(50);
            }
        }
    }

    public async Task<bool> ExistsAsync(string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url(key));
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return response.StatusCode == HttpStatusCode.OK && response.Content.Headers.ContentLength > 0;
    }

    /// <summary>
    /// Every media playlist the masters (TS and fMP4) of the point name (I-frame playlists too), and for each whether every segment and
    /// init segment it lists is there: (playlist key, text, missing objects). Null while there is no master yet.
    /// </summary>
    public async Task<List<(string Key, string Text, List<string> Missing)>?> CheckAsync(string point)
    {
        var result = new List<(string, string, List<string>)>();
        foreach (var masterName in new[] { "master.m3u8", "master-fmp4.m3u8" })
        {
            var master = await TextOrNullAsync($"{point}/{masterName}");
            if (master is null)
            {
                return null;
            }

            var uris = HlsText.AttributeLines(master, "#EXT-X-STREAM-INF").Select(v => v.Uri!)
                .Concat(HlsText.AttributeLines(master, "#EXT-X-MEDIA").Select(m => m.Attributes.GetValueOrDefault("URI")).OfType<string>())
                .Concat(HlsText.AttributeLines(master, "#EXT-X-I-FRAME-STREAM-INF").Select(m => m.Attributes.GetValueOrDefault("URI")).OfType<string>());
            foreach (var uri in uris)
            {
                var key = $"{point}/{uri}";
                var text = await TextOrNullAsync(key);
                if (text is null)
                {
                    result.Add((key, string.Empty, [key]));
                    continue;
                }

                var folder = key[..(key.LastIndexOf('/') + 1)];
                var missing = new List<string>();
                var objects = HlsText.Segments(text).Select(s => s.Uri).ToList();
                if (MapUri().Match(text) is { Success: true } map)
                {
                    objects.Insert(0, map.Groups[1].Value);
                }

                foreach (var segment in objects)
                {
                    if (!await ExistsAsync(folder + segment))
                    {
                        missing.Add(folder + segment);
                    }
                }

                result.Add((key, text, missing));
            }
        }

        return result;
    }

    /// <summary>The segment numbers a playlist lists, in order.</summary>
    public static long[] Numbers(string playlist) =>
        [.. HlsText.Segments(playlist).Select(s => long.Parse(s.Uri[(s.Uri.LastIndexOf('/') + 1)..s.Uri.LastIndexOf('.')], CultureInfo.InvariantCulture))];

    [GeneratedRegex("#EXT-X-MAP:URI=\"([^\"]+)\"")]
    private static partial Regex MapUri();
}

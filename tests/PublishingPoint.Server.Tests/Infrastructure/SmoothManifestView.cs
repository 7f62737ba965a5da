using System.Globalization;
using System.Xml.Linq;

namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>A Smooth client manifest read with plain XML (not our writer's model), for assertions.</summary>
public sealed record SmoothManifestView(XDocument Xml, string PointUrl)
{
    public XElement Root => Xml.Root!;

    public bool IsLive => string.Equals((string?)Root.Attribute("IsLive"), "TRUE", StringComparison.OrdinalIgnoreCase);

    public long Duration => (long?)Root.Attribute("Duration") ?? 0;

    public XElement Stream(string type) => Root.Elements("StreamIndex").Single(e => (string?)e.Attribute("Type") == type);

    public bool HasStream(string type) => Root.Elements("StreamIndex").Any(e => (string?)e.Attribute("Type") == type);

    public int[] Bitrates(string type) =>
        [.. Stream(type).Elements("QualityLevel").Select(q => int.Parse((string)q.Attribute("Bitrate")!, CultureInfo.InvariantCulture))];

    /// <summary>Chunk start times, expanding the t/d/r shorthand of MS-SSTR 2.2.2.6.</summary>
    public long[] ChunkTimes(string type)
    {
        var times = new List<long>();
        long next = 0;
        foreach (var c in Stream(type).Elements("c"))
        {
            var t = (long?)c.Attribute("t") ?? next;
            var d = (long?)c.Attribute("d") ?? 0;
            var r = (int?)c.Attribute("r") ?? 1;
            for (var i = 0; i < r; i++)
            {
                times.Add(t);
                t += d;
            }

            next = t;
        }

        return [.. times];
    }

    public long[] ChunkDurations(string type) => [.. Stream(type).Elements("c").Select(c => (long?)c.Attribute("d") ?? 0)];

    /// <summary>A fragment URL, resolved against the point as a player resolves it against the manifest.</summary>
    public string Url(string type, int bitrate, long time) => PointUrl +
        ((string)Stream(type).Attribute("Url")!).Replace("{bitrate}", bitrate.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{start time}", time.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    /// <summary>
    /// The manifest once the point is VOD. An encoder process can exit before the server has read the end of
    /// its body, so the finalisation is waited for (bounded), not assumed.
    /// </summary>
    public static async Task<SmoothManifestView> FetchVodAsync(HttpClient http, string url)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var view = await FetchAsync(http, url);
            if (!view.IsLive || DateTime.UtcNow > deadline)
            {
                return view;
            }

            await Task.Delay(200);
        }
    }

    public static SmoothManifestView Parse(string xml) => new(XDocument.Parse(xml), string.Empty);

    public static async Task<SmoothManifestView> FetchAsync(HttpClient http, string url)
    {
        using var response = await http.GetAsync(url);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {url}: {(int)response.StatusCode} {body}");
        return new SmoothManifestView(XDocument.Parse(body), url[..(url.LastIndexOf('/') + 1)]);
    }
}

using System.Net;
using PublishingPoint.Server.Ingest.Segments;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Ingest;

/// <summary>
/// A pushed MPD that says type="static" ends the presentation. The test was a backtracking regular expression, which a
/// megabyte of "&lt;MPD" without a '&gt;' turned into seconds of CPU per PUT; now a scan of the first MPD start tag.
/// </summary>
public sealed class StaticMpdTests
{
    [Theory]
    [InlineData("<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" mediaPresentationDuration=\"PT8S\">", true)]
    [InlineData("<MPD\n  profiles=\"urn:mpeg:dash:profile:isoff-live:2011\"\n  type=\"static\">\n<Period/></MPD>", true)]
    [InlineData("<MPD type=\"dynamic\" availabilityStartTime=\"1970-01-01T00:00:00Z\">", false)]
    [InlineData("<MPD type=\"dynamic\"><!-- type=\"static\" --></MPD>", false)] // only the start tag counts
    [InlineData("no MPD here type=\"static\"", false)]
    public void TheStartTagDecides(string mpd, bool ended) => Assert.Equal(ended, SegmentIngestEndpoint.IsStaticMpd(mpd));

    [Fact]
    public async Task AMegabyteOfOpenMpdTags_IsAnsweredAtOnce_AndEndsNothing()
    {
        await using var server = await RunningServer.StartAsync();
        var body = string.Concat(Enumerable.Repeat("<MPD", (1024 * 1024 / 4) - 1));
        using var content = new StringContent(body);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var put = await server.Http.PutAsync(new Uri("live/regex.isml/manifest.mpd", UriKind.Relative), content, cancel.Token);
        Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
        Assert.False(SegmentIngestEndpoint.IsStaticMpd(body));
    }
}

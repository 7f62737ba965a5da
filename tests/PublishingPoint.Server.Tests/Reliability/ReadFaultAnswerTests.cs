using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Reliability;

/// <summary>
/// A player's request that fails on something the server did not foresee (here every read of an archive fails, as a
/// failing disk's do) used to leave the exception to Kestrel: a bare 500 with no headers at all, so a browser player
/// saw a CORS failure (status 0) and a CDN cached a 500 it could not tell from an answer (a review's finding). It is
/// a problem answer now, with the point's CORS headers, not cacheable, with Retry-After, and a log line.
/// </summary>
public sealed class ReadFaultAnswerTests
{
    [Fact]
    public async Task AnArchiveThatCannotBeRead_Gets503WithCorsAndRetryAfter_AndServesOnceItCanBe()
    {
        const string Point = "live/eio.isml";
        var data = TempDirectory.Create("pp-data");
        await using (var first = await RunningServer.StartAsync(data))
        {
            var (status, body) = await Posting.PostChunkedAsync(first.Http, $"{Point}/Streams(a)", await IsmvCapture.SixSecondsAsync());
            Assert.True(status == HttpStatusCode.OK, body);
        }

        // Started again on the same folder: the event's fragments are read from its archive.
        var log = new LogCapture(LogLevel.Error);
        await using var server = await RunningServer.StartAsync(data, services => services.AddSingleton<ILoggerProvider>(log));
        var master = await server.Http.GetStringAsync($"{Point}/master.m3u8");
        var mediaUri = HlsText.AttributeLines(master, "#EXT-X-STREAM-INF")[0].Uri!;
        var media = await server.Http.GetStringAsync($"{Point}/{mediaUri}");
        var segment = $"{Point}/{mediaUri[..(mediaUri.LastIndexOf('/') + 1)]}{HlsText.Segments(media)[1].Uri}";
        var smooth = await SmoothManifestView.FetchAsync(server.Http, $"{Point}/Manifest");
        var fragment = smooth.Url("video", smooth.Bitrates("video")[0], smooth.ChunkTimes("video")[1]);

        server.Services.GetRequiredService<PointRegistry>().ArchiveFiles.ReadFault = path => path.Contains("eio.isml", StringComparison.Ordinal);
        foreach (var url in new[] { segment, fragment })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Add("Origin", "https://player.example");
            using var failed = await server.Http.SendAsync(request);
            var problem = await failed.Content.ReadAsStringAsync();
            Assert.True(failed.StatusCode == HttpStatusCode.ServiceUnavailable, $"{url}: {(int)failed.StatusCode} {problem}");
            Assert.Equal("application/problem+json", failed.Content.Headers.ContentType?.MediaType);
            Assert.Equal("*", failed.Headers.GetValues("Access-Control-Allow-Origin").Single());
            Assert.True(failed.Headers.CacheControl?.NoCache == true || failed.Headers.CacheControl?.NoStore == true, $"{url}: Cache-Control {failed.Headers.CacheControl}");
            Assert.NotNull(failed.Headers.RetryAfter);
            Assert.Null(failed.Headers.ETag);
            Assert.Contains("cannot be read now", problem, StringComparison.Ordinal);
        }

        Assert.Contains(log.Entries, e => e.Level == LogLevel.Error && e.Exception is IOException && e.Message.Contains("eio.isml", StringComparison.Ordinal));

        server.Services.GetRequiredService<PointRegistry>().ArchiveFiles.ReadFault = null; // the disk is back
        using var served = await server.Http.GetAsync(segment);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal("video/mp2t", served.Content.Headers.ContentType?.MediaType);
        using var again = await server.Http.GetAsync(fragment);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }
}

using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>Validators, content coding and ranges as RFC 9110 has them, not as one exact string.</summary>
public sealed class HttpSemanticsTests
{
    [Fact]
    public async Task IfNoneMatch_AcceptEncoding_AndRange_FollowRfc9110()
    {
        using var server = new InProcessServer();
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/http.isml/Streams(a)", await IsmvCapture.SixSecondsAsync())).Status);
        const string Playlist = "live/http.isml/hls/video-400000.m3u8";
        using var first = await server.Http.GetAsync(Playlist);
        var etag = first.Headers.ETag!.Tag;

        foreach (var ifNoneMatch in new[] { etag, $"W/{etag}", $"\"nope\", {etag}", "*" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Playlist);
            request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
            using var response = await server.Http.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.NotModified, $"If-None-Match: {ifNoneMatch} -> {(int)response.StatusCode}");
        }

        foreach (var (acceptEncoding, gzip) in new[] { ("gzip", true), ("br, gzip;q=0.5", true), ("gzip;q=0", false), ("identity", false), ("GZIP;Q=1.0", true) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Playlist);
            request.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
            using var response = await server.Http.SendAsync(request);
            Assert.True(response.Content.Headers.ContentEncoding.Contains("gzip") == gzip, $"Accept-Encoding: {acceptEncoding}");
        }

        // The gzip body is another representation than the plain one: its own strong tag (RFC 9110 8.8.3), and neither
        // tag confirms the other's body.
        using var zipped = await SendAsync(server, Playlist, ("Accept-Encoding", "gzip"));
        var zippedTag = zipped.Headers.ETag!.Tag;
        Assert.NotEqual(etag, zippedTag);
        Assert.False(zipped.Headers.ETag.IsWeak);
        foreach (var (acceptEncoding, ifNoneMatch, status) in new[]
        {
            ("gzip", etag, HttpStatusCode.OK), ("gzip", zippedTag, HttpStatusCode.NotModified),
            ("identity", zippedTag, HttpStatusCode.OK), ("identity", etag, HttpStatusCode.NotModified),
        })
        {
            using var response = await SendAsync(server, Playlist, ("Accept-Encoding", acceptEncoding), ("If-None-Match", ifNoneMatch));
            Assert.True(response.StatusCode == status, $"Accept-Encoding: {acceptEncoding}, If-None-Match: {ifNoneMatch} -> {(int)response.StatusCode}");
            Assert.Equal(acceptEncoding == "gzip" ? zippedTag : etag, response.Headers.ETag?.Tag);
        }

        const string Segment = "live/http.isml/hls/video-400000/0.ts";
        var whole = await server.Http.GetByteArrayAsync(Segment);
        foreach (var (range, status, from, length) in new (string, HttpStatusCode, int, int)[]
        {
            ("bytes=0-99", HttpStatusCode.PartialContent, 0, 100),
            ("bytes=-100", HttpStatusCode.PartialContent, whole.Length - 100, 100),
            ("bytes=100-", HttpStatusCode.PartialContent, 100, whole.Length - 100),
            ("bytes=0-9,20-29", HttpStatusCode.OK, 0, whole.Length),
            ("items=0-9", HttpStatusCode.OK, 0, whole.Length),
            ("bytes=nonsense", HttpStatusCode.OK, 0, whole.Length),
            ($"bytes={whole.Length}-", HttpStatusCode.RequestedRangeNotSatisfiable, 0, 0),
        })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Segment);
            request.Headers.TryAddWithoutValidation("Range", range);
            using var response = await server.Http.SendAsync(request);
            Assert.True(response.StatusCode == status, $"Range: {range} -> {(int)response.StatusCode}");
            if (status != HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                Assert.Equal(whole.AsSpan(from, length).ToArray(), await response.Content.ReadAsByteArrayAsync());
            }
            else
            {
                Assert.Equal($"bytes */{whole.Length}", response.Content.Headers.ContentRange?.ToString());
            }
        }
    }

    private static async Task<HttpResponseMessage> SendAsync(InProcessServer server, string url, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await server.Http.SendAsync(request);
    }
}

/// <summary>What an answer with its own max-age (a blocking playlist reload) does to the rendered output it shares.</summary>
public sealed class RenderedOutputGzipTests
{
    /// <summary>
    /// An answer with its own max-age was written from a copy of the cached output, and the gzip copy was made on that
    /// copy and thrown away: every blocking reload (and any request an anonymous client adds _HLS_msn to, for a playlist
    /// no plain client fetched compressed) compressed the playlist again (a review's finding: 15 to 30 ms for a
    /// start-over one). It is made once, on the cached output.
    /// </summary>
    /// <summary>
    /// An encoder that comes back after FinalizeGraceSeconds continues a finished point, so its VOD playlist and MPD are
    /// kept by caches for a minute (they told players for an hour that it ended). So are a closed point's: an operator
    /// may open it again, and its next push makes it live (a review's finding on the hour they had).
    /// </summary>
    [Fact]
    public async Task AFinishedPointsPlaylistAndMpd_AreCachedAMinute_ClosedOrNot()
    {
        await using var server = await RunningServer.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/ended.isml/Streams(a)", await IsmvCapture.SixSecondsAsync())).Status);
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        await using (var push = await HeldPush.StartAsync(server.BaseUrl, "/live/closed.isml/Streams(a)"))
        {
            await push.SendAsync(header);
            foreach (var fragment in fragments)
            {
                await push.SendAsync(fragment);
            }

            await Eventually.WaitUntilAsync(async () => (await server.Http.GetStringAsync("live/closed.isml/hls/video-400000.m3u8")).Contains("#EXTINF", StringComparison.Ordinal), "no segment listed");
            using var closed = await server.Http.PostAsync("api/points/live/closed.isml/close", System.Net.Http.Json.JsonContent.Create(new { }));
            Assert.True(closed.IsSuccessStatusCode, $"close: {(int)closed.StatusCode}");
        }

        foreach (var (point, seconds) in new[] { ("ended", 60), ("closed", 60) })
        {
            foreach (var resource in new[] { "hls/video-400000.m3u8", "manifest.mpd" })
            {
                using var response = await server.Http.GetAsync($"live/{point}.isml/{resource}");
                var body = await response.Content.ReadAsStringAsync();
                Assert.True(body.Contains("#EXT-X-ENDLIST", StringComparison.Ordinal) || body.Contains("type=\"static\"", StringComparison.Ordinal), body);
                Assert.Equal(TimeSpan.FromSeconds(seconds), response.Headers.CacheControl?.MaxAge);
            }
        }
    }

    [Fact]
    public async Task AnAnswerWithItsOwnMaxAge_CompressesTheCachedOutputOnce()
    {
        Assert.True(PublishingPoint.Server.Points.PointPath.TryParse("live/gzip.isml", out var path, out var error), error);
        var point = new PublishingPoint.Server.Points.Point(path, Path.GetTempPath());
        var output = new PublishingPoint.Server.Points.RenderedOutput(point.Version, System.Text.Encoding.ASCII.GetBytes(new string('#', 4096)), "\"e\"", 1, "text/plain");
        point.Output.Set("hls/video.m3u8", output);
        for (var i = 0; i < 2; i++)
        {
            var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
            context.Request.Method = "GET";
            context.Request.Headers.AcceptEncoding = "gzip";
            context.Response.Body = new MemoryStream();
            var answer = PublishingPoint.Server.Delivery.RenderedResponses.TryServeCached(context, point, "hls/video.m3u8", PublishingPoint.Server.Delivery.TimeShift.None, 60);
            Assert.NotNull(answer);
            await answer;
            Assert.Equal("gzip", context.Response.Headers.ContentEncoding.ToString());
            Assert.Contains("max-age=60", context.Response.Headers.CacheControl.ToString(), StringComparison.Ordinal);
        }

        // Made on the cached output: asking it again compresses nothing.
        var compressions = 0;
        output.Gzipped(bytes => { compressions++; return bytes; });
        Assert.Equal(0, compressions);
    }
}

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
}

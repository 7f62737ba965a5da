using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Ingest;

/// <summary>Ingest over HTTP/2 (with TLS, libcurl-based senders and HttpClient negotiate it).</summary>
public sealed class Http2IngestTests
{
    /// <summary>
    /// An HTTP/2 body has neither Content-Length nor Transfer-Encoding: chunked; the ingest took such a request for
    /// an empty handshake, answered 200 and dropped the whole push (a review's finding).
    /// </summary>
    [Fact]
    public async Task AStreamedPushOverHttp2_IsIngested_NotTakenForAnEmptyHandshake()
    {
        var capture = await IsmvCapture.SixSecondsAsync();
        var certificate = await TestCertificate.CreateAsync();
        await using var server = await RunningServer.StartAsync(null, certificate.ServerSettings);
        using var http2 = certificate.Trusting(server.BaseUrl, HttpVersion.Version20);
        var (status, body) = await Posting.PostChunkedAsync(http2, "live/h2.isml/Streams(a)", capture);
        Assert.True(status == HttpStatusCode.OK, body);

        var manifest = await SmoothManifestView.FetchVodAsync(http2, "live/h2.isml/Manifest");
        Assert.Equal(3, manifest.ChunkTimes("video").Length);

        // A POST without a body (an encoder's handshake: over HTTP/2 its headers end the stream) is still answered 200
        // without a session, and makes no stream.
        using var handshake = new HttpRequestMessage(HttpMethod.Post, "live/h2.isml/Streams(b)");
        using var empty = await http2.SendAsync(handshake);
        Assert.Equal(HttpStatusCode.OK, empty.StatusCode);
        var point = await http2.GetStringAsync("api/points/live/h2.isml");
        Assert.DoesNotContain("\"b\"", point, StringComparison.Ordinal);
    }
}

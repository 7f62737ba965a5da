using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>The operator API, metrics and the API document are for operators only, however a request arrives.</summary>
public sealed class OperatorSurfaceTests
{
    private const string Key = "operator-key-for-tests";

    [Fact]
    public async Task ThroughTheShippedNginx_OperatorRoutesInAnyLetterCase_Get404()
    {
        await using var origin = await RunningServer.StartAsync();
        using var nginx = ShippedNginx.Start(origin.BaseUrl.Port);
        using var edge = new HttpClient { BaseAddress = nginx.BaseUrl, Timeout = TimeSpan.FromSeconds(10) };
        foreach (var path in new[] { "api/points", "API/points", "Api/Points", "METRICS", "metrics", "OpenAPI/v1.json", "openapi/v1.json", "DASHBOARD", "Health/Ready", "Scalar/", "scalar/scalar.js" })
        {
            using var response = await edge.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{path} answered {(int)response.StatusCode} through the edge");
        }

        // Relayed by the proxy from loopback: still not the key-less local operator.
        using var direct = await origin.Http.GetAsync("API/points");
        Assert.Equal(HttpStatusCode.OK, direct.StatusCode);
    }

    [Theory]
    [InlineData("X-Forwarded-For", "203.0.113.7")]
    [InlineData("Forwarded", "for=203.0.113.7")]
    [InlineData("X-Real-IP", "203.0.113.7")]
    public async Task RelayedRequestFromLoopback_GetsNoKeylessOperatorAccess(string header, string value)
    {
        await using var server = await RunningServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/points");
        request.Headers.TryAddWithoutValidation(header, value);
        using var relayed = await server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, relayed.StatusCode);
        using var direct = await server.Http.GetAsync("api/points");
        Assert.Equal(HttpStatusCode.OK, direct.StatusCode);
    }

    /// <summary>
    /// Behind a trusted proxy, the forwarding middleware puts the client the proxy names in place of the peer and removes
    /// the header it came in. A review found that a request relayed for "127.0.0.1" then passed for a direct loopback
    /// client: key-less operator access and ingest from any host the proxy serves.
    /// </summary>
    [Fact]
    public async Task ARequestATrustedProxyRelaysFor127001_IsStillRelayed()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:TrustedProxies:0=127.0.0.1");
        using var operatorRequest = new HttpRequestMessage(HttpMethod.Get, "api/points");
        operatorRequest.Headers.TryAddWithoutValidation("X-Forwarded-For", "127.0.0.1");
        using var relayed = await server.Http.SendAsync(operatorRequest);
        Assert.Equal(HttpStatusCode.Forbidden, relayed.StatusCode);

        using var content = PublishingPoint.Benchmarks.Live.ChunkedPost.Content(await IsmvCapture.SixSecondsAsync());
        using var push = new HttpRequestMessage(HttpMethod.Post, "live/relayed.isml/Streams(a)") { Content = content };
        push.Headers.TryAddWithoutValidation("X-Forwarded-For", "127.0.0.1");
        using var pushed = await server.Http.SendAsync(push);
        Assert.Equal(HttpStatusCode.Forbidden, pushed.StatusCode);

        using var direct = await server.Http.GetAsync("api/points");
        Assert.Equal(HttpStatusCode.OK, direct.StatusCode);
    }

    [Fact]
    public async Task ForwardedFor_IsBelievedOnlyFromATrustedProxy()
    {
        var capture = await IsmvCapture.SixSecondsAsync();
        foreach (var (trusted, expected) in new[] { (true, "203.0.113.7"), (false, "127.0.0.1") })
        {
            // A relayed push needs the secret (without one, ingest is for encoders on this machine).
            await using var server = trusted
                ? await RunningServer.StartAsync(null, "--PublishingPoint:TrustedProxies:0=127.0.0.1", "--PublishingPoint:IngestSecret=fwd-secret")
                : await RunningServer.StartAsync(null, "--PublishingPoint:IngestSecret=fwd-secret");
            await using var push = await HeldPush.StartAsync(server.BaseUrl, "/live/fwd.isml/Streams(a)?token=fwd-secret", "X-Forwarded-For: 203.0.113.7\r\n");
            await push.SendAsync(capture.AsMemory(0, 4096));
            string? remote = null;
            await Eventually.WaitUntilAsync(async () =>
            {
                using var response = await server.Http.GetAsync("api/points/live/fwd.isml");
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    return false;
                }

                using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                var streams = json.RootElement.GetProperty("streams");
                remote = streams.GetArrayLength() > 0 ? streams[0].GetProperty("remoteAddress").GetString() : null;
                return remote is not null;
            }, "the push never showed up");
            Assert.Equal(expected, remote);
        }
    }

    [Fact]
    public async Task UnknownHostHeader_Gets400_SoDnsRebindingReachesNothing()
    {
        await using var server = await RunningServer.StartAsync();
        foreach (var path in new[] { "api/points", "metrics", "live/ch1.isml/Manifest" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Host = "attacker.example";
            using var response = await server.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        using var local = new HttpRequestMessage(HttpMethod.Get, "api/points");
        local.Headers.Host = "localhost";
        using var allowed = await server.Http.SendAsync(local);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    [Theory]
    [InlineData("close")]
    [InlineData("open")]
    [InlineData("flush")]
    public async Task BodylessStateChange_NeedsTheKeyHeaderOrJson(string action)
    {
        await using var server = await RunningServer.StartAsync();
        using (var create = await server.Http.PostAsJsonAsync("api/points", new { path = "live/csrf.isml" }))
        {
            Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        }

        // What a cross-site form can send: no custom header, a "simple" content type.
        using (var form = new StringContent("x=1", Encoding.UTF8, "application/x-www-form-urlencoded"))
        using (var crossSite = await server.Http.PostAsync($"api/points/live/csrf.isml/{action}", form))
        {
            Assert.Equal(HttpStatusCode.Forbidden, crossSite.StatusCode);
        }

        using (var bare = await server.Http.PostAsync($"api/points/live/csrf.isml/{action}", null))
        {
            Assert.Equal(HttpStatusCode.Forbidden, bare.StatusCode);
        }

        using (var deleteForm = new HttpRequestMessage(HttpMethod.Delete, "api/points/live/csrf.isml"))
        using (var deleted = await server.Http.SendAsync(deleteForm))
        {
            Assert.Equal(HttpStatusCode.Forbidden, deleted.StatusCode);
        }

        using (var json = new StringContent("{}", Encoding.UTF8, "application/json"))
        using (var operatorCall = await server.Http.PostAsync($"api/points/live/csrf.isml/{action}", json))
        {
            Assert.Equal(HttpStatusCode.OK, operatorCall.StatusCode);
        }

        using var keyed = new HttpRequestMessage(HttpMethod.Post, $"api/points/live/csrf.isml/{action}");
        keyed.Headers.Add("X-Api-Key", "anything: no key is configured, the header only proves a non-simple request");
        using var keyedCall = await server.Http.SendAsync(keyed);
        Assert.Equal(HttpStatusCode.OK, keyedCall.StatusCode);
    }

    [Theory]
    [InlineData("metrics")]
    [InlineData("openapi/v1.json")]
    [InlineData("scalar/")]
    [InlineData("scalar/scalar.js")]
    [InlineData("api/points")]
    public async Task WithAnOperatorKey_MetricsAndTheApiDocumentNeedIt(string path)
    {
        await using var server = await RunningServer.StartAsync(null, $"--PublishingPoint:AdminApiKey={Key}");
        using var anonymous = await server.Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using var wrong = new HttpRequestMessage(HttpMethod.Get, path);
        wrong.Headers.Add("X-Api-Key", "not-the-key");
        using var refused = await server.Http.SendAsync(wrong);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using var keyed = new HttpRequestMessage(HttpMethod.Get, path);
        keyed.Headers.Add("X-Api-Key", Key);
        using var allowed = await server.Http.SendAsync(keyed);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        using var health = await server.Http.GetAsync("health/live");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Theory]
    [InlineData("api/points")]
    [InlineData("api/clips")]
    public async Task WithoutTheKey_AnOperatorBodyIsRefusedUnread_AndWithItABodyHasABound(string path)
    {
        await using var server = await RunningServer.StartAsync(null, $"--PublishingPoint:AdminApiKey={Key}");
        // Not JSON at all: a route that bound its body before the credential check would answer 400 to anyone.
        using var broken = new StringContent("{\"path\": \"" + new string('x', 512 * 1024), Encoding.UTF8, "application/json");
        using var anonymous = await server.Http.PostAsync(path, broken);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        using var large = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new StringContent(JsonSerializer.Serialize(new { path = "/live/" + new string('x', 100 * 1024) + ".isml" }), Encoding.UTF8, "application/json"),
        };
        large.Headers.Add("X-Api-Key", Key);
        using var tooLarge = await server.Http.SendAsync(large);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);

        using var small = new HttpRequestMessage(HttpMethod.Post, "api/points")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { path = "live/gate.isml" }), Encoding.UTF8, "application/json"),
        };
        small.Headers.Add("X-Api-Key", Key);
        using var created = await server.Http.SendAsync(small);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
    }
}

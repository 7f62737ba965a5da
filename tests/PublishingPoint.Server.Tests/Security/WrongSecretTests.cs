using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>
/// Nothing limited how fast one client could try secrets (a review's finding): a point's own ingest secret may be 8
/// characters, and the server answered a wrong guess as fast as it answers anything. An address that presents
/// MaxWrongSecretsPerMinute wrong secrets within a minute has every secret refused unchecked for a minute after its last.
/// </summary>
public sealed class WrongSecretTests
{
    private const string Key = "operator-key-0123456789";
    private const string Secret = "ingest-secret-0123456789";

    [Fact]
    public async Task AnAddressThatGuesses_IsBarredFromThatSecretForAMinute_WhileItsOtherSecretsAndOtherAddressesAreServed()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await RunningServer.StartWithClockAsync(clock,
            $"--PublishingPoint:AdminApiKey={Key}", $"--PublishingPoint:IngestSecret={Secret}", "--PublishingPoint:MaxWrongSecretsPerMinute=5");

        for (var i = 0; i < 5; i++)
        {
            using var wrong = await AskAsync(server.Http, $"guess-{i}");
            Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        }

        using (var barred = await AskAsync(server.Http, Key))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, barred.StatusCode);
            Assert.InRange(barred.Headers.RetryAfter?.Delta?.TotalSeconds ?? 0, 1, 60);
            Assert.Contains("too many wrong secrets", await barred.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // The bar is for the secret guessed at: the same address's ingest, with its own secret, goes on.
        using (var push = await server.Http.PostAsync(new Uri($"live/guess.isml/Streams(a)?token={Secret}", UriKind.Relative), new ByteArrayContent(await IsmvCapture.SixSecondsAsync())))
        {
            Assert.Equal(HttpStatusCode.OK, push.StatusCode);
        }

        using (var elsewhere = new HttpClient(FromAddress(IPAddress.Parse("127.0.0.2"))) { BaseAddress = server.BaseUrl })
        {
            using (var served = await AskAsync(elsewhere, Key))
            {
                Assert.Equal(HttpStatusCode.OK, served.StatusCode);
            }

            // An address that has shown it knows the key (an operator who then mistypes it, a stale script on the same
            // machine) is not barred from it.
            for (var i = 0; i < 6; i++)
            {
                using var wrong = await AskAsync(elsewhere, $"typo-{i}");
                Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
            }

            using var stillServed = await AskAsync(elsewhere, Key);
            Assert.Equal(HttpStatusCode.OK, stillServed.StatusCode);
        }

        clock.Advance(TimeSpan.FromSeconds(61));
        using (var again = await AskAsync(server.Http, Key))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }

        // A wrong secret or two after the minute is counted afresh, not barred at once.
        using (var oneMore = await AskAsync(server.Http, "guess-again"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, oneMore.StatusCode);
        }

        using var afterwards = await AskAsync(server.Http, Key);
        Assert.Equal(HttpStatusCode.OK, afterwards.StatusCode);
    }

    /// <summary>Each secret is counted apart: guessing one point's secret bars nothing else, the server's ingest secret included.</summary>
    [Fact]
    public async Task GuessingOnePointsSecret_BarsOnlyThatSecret()
    {
        await using var server = await RunningServer.StartAsync(null, $"--PublishingPoint:IngestSecret={Secret}", "--PublishingPoint:MaxWrongSecretsPerMinute=3");
        using (var created = await server.Http.PostAsync("api/points", System.Net.Http.Json.JsonContent.Create(new { path = "live/own.isml", ingestSecret = "own-secret-0123456789" })))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        for (var i = 0; i < 3; i++)
        {
            using var wrong = await server.Http.PostAsync($"live/own.isml/Streams(a)?token=guess-{i}", new ByteArrayContent([0]));
            Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        }

        using (var barred = await server.Http.PostAsync("live/own.isml/Streams(a)?token=own-secret-0123456789", new ByteArrayContent([0])))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, barred.StatusCode);
        }

        using var other = await server.Http.PostAsync($"live/other.isml/Streams(a)?token={Secret}", new ByteArrayContent(await IsmvCapture.SixSecondsAsync()));
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
    }

    [Fact]
    public async Task NoLimit_WhenSetToZero()
    {
        await using var server = await RunningServer.StartAsync(null, $"--PublishingPoint:AdminApiKey={Key}", "--PublishingPoint:MaxWrongSecretsPerMinute=0");
        for (var i = 0; i < 30; i++)
        {
            using var wrong = await AskAsync(server.Http, $"guess-{i}");
            Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        }

        using var right = await AskAsync(server.Http, Key);
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
    }

    private static Task<HttpResponseMessage> AskAsync(HttpClient http, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri("api/points", UriKind.Relative));
        request.Headers.Add("X-Api-Key", key);
        return http.SendAsync(request);
    }

    private static SocketsHttpHandler FromAddress(IPAddress local) => new()
    {
        ConnectCallback = async (context, cancellation) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(local, 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellation);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };
}

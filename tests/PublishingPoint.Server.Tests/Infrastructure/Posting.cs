using System.Net;

namespace PublishingPoint.Server.Tests.Infrastructure;

public static class Posting
{
    /// <summary>POSTs a body chunked (no Content-Length), as a live encoder does.</summary>
    public static async Task<(HttpStatusCode Status, string Body)> PostChunkedAsync(HttpClient http, string url, byte[] body)
    {
        using var content = PublishingPoint.Benchmarks.Live.ChunkedPost.Content(body);
        using var response = await http.PostAsync(url, content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}

namespace PublishingPoint.Server.Delivery;

internal static class Responses
{
    public static Task BytesAsync(HttpContext context, string contentType, byte[] bytes, Transport.SpooledFile? file = null)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = contentType;
        response.ContentLength = bytes.Length;
        return HttpMethods.IsHead(context.Request.Method)
            ? Task.CompletedTask
            : Transport.DirectSend.WriteBodyAsync(context, bytes, file);
    }

    public static Task ProblemAsync(HttpContext context, int status, string message)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        var bytes = System.Text.Encoding.UTF8.GetBytes(message + "\n");
        response.ContentLength = bytes.Length;
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : response.Body.WriteAsync(bytes, context.RequestAborted).AsTask();
    }
}
